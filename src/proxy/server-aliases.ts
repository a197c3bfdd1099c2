/**
 * The MDM server under another name. Forward mode decrypts CONNECTs by the name given to `--mdm-host` and tunnels
 * every other target untouched; without this check, a client could CONNECT to the same server by its address,
 * another spelling of its name or a local alias of a loopback server, speak TLS to it directly *from mdmtap's
 * address*, and send a client-certificate header of its own that a server set up with `--client-cert-header`
 * trusts from mdmtap. So an unrecorded path whose peer is an MDM server is refused. Names are compared by the
 * addresses they resolve to (resolved again after a minute; an address is remembered a quarter of an hour after it
 * was last seen, and a failed lookup forgets nothing), and the tunnel checks the address it really reached,
 * so a name that resolves differently the second time gains nothing.
 */
import os from 'node:os';
import net from 'node:net';
import type { HostPort } from './hosts.js';
import { resolveAll } from './resolve.js';

type Lookup = (host: string) => Promise<string[]>;

/** How often names are resolved again, and again sooner after a failed lookup. */
const RESOLVE_AGAIN_MS = 60_000;
const RETRY_FAILED_MS = 5_000;
/** An address a name resolved to stays one of the server's this long after it was last seen (round-robin DNS). */
const REMEMBER_MS = 15 * 60_000;

export class ServerAliases {
  /** `address|port` → the `--mdm-host` it belongs to, and until when it is remembered. */
  private readonly known = new Map<string, { address: string; port: number; spec: string; until: number }>();
  private nextResolve = 0;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly servers: HostPort[],
    private readonly lookup: Lookup = resolveAll,
    private readonly now: () => number = Date.now,
  ) {}

  /** The `--mdm-host` that `address:port` reaches, if it is one (undefined otherwise). */
  async serverAt(address: string, port: number): Promise<string | undefined> {
    if (this.servers.length === 0) return undefined;
    await this.refresh();
    const a = plain(address);
    const now = this.now();
    for (const s of this.known.values()) {
      if (s.port !== port || s.until < now) continue;
      // A server on this machine answers on every local address when it listens on all of them.
      if (s.address === a || (isLocal(s.address) && isLocal(a))) return s.spec;
    }
    return undefined;
  }

  private async refresh(): Promise<void> {
    if (this.now() < this.nextResolve) return;
    this.pending ??= (async () => {
      let failed = false;
      for (const s of this.servers) {
        const spec = `${s.host}:${s.port}`;
        // A lookup that fails keeps what was known (an address does not stop being the server's because DNS did
        // not answer), and is tried again soon.
        const found = await this.lookup(s.host).catch(() => ((failed = true), [] as string[]));
        const until = this.now() + REMEMBER_MS;
        for (const address of found) {
          const a = plain(address);
          this.known.set(`${a}|${s.port}`, { address: a, port: s.port, spec, until });
        }
      }
      this.nextResolve = this.now() + (failed ? RETRY_FAILED_MS : RESOLVE_AGAIN_MS);
    })().finally(() => (this.pending = undefined));
    await this.pending;
  }
}

/** IPv4-mapped IPv6 (`::ffff:127.0.0.1`) as IPv4, lower case. */
function plain(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

function isLocal(address: string): boolean {
  if (address.startsWith('127.') || address === '::1' || address === '0.0.0.0' || address === '::') return true;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) if (plain(i.address) === address) return true;
  }
  return false;
}
