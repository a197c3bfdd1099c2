/**
 * The MDM server under another name. Forward mode decrypts CONNECTs by the name given to `--mdm-host` and tunnels
 * every other target untouched; without this check, a client could CONNECT to the same server by its address,
 * another spelling of its name or a local alias of a loopback server, speak TLS to it directly *from mdmtap's
 * address*, and send a client-certificate header of its own that a server set up with `--client-cert-header`
 * trusts from mdmtap. So an unrecorded path whose peer is an MDM server is refused. Names are compared by the
 * addresses they resolve to (resolved again after a minute), and the tunnel checks the address it really reached,
 * so a name that resolves differently the second time gains nothing.
 */
import dns from 'node:dns';
import os from 'node:os';
import net from 'node:net';
import type { HostPort } from './hosts.js';

type Lookup = (host: string) => Promise<string[]>;

const RESOLVE_AGAIN_MS = 60_000;

const systemLookup: Lookup = async (host) => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export class ServerAliases {
  private resolved: { at: number; addresses: Array<{ address: string; port: number; spec: string }> } | undefined;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly servers: HostPort[],
    private readonly lookup: Lookup = systemLookup,
    private readonly now: () => number = Date.now,
  ) {}

  /** The `--mdm-host` that `address:port` reaches, if it is one (undefined otherwise). */
  async serverAt(address: string, port: number): Promise<string | undefined> {
    if (this.servers.length === 0) return undefined;
    await this.refresh();
    const a = plain(address);
    for (const s of this.resolved?.addresses ?? []) {
      if (s.port !== port) continue;
      // A server on this machine answers on every local address when it listens on all of them.
      if (s.address === a || (isLocal(s.address) && isLocal(a))) return s.spec;
    }
    return undefined;
  }

  private async refresh(): Promise<void> {
    if (this.resolved && this.now() - this.resolved.at < RESOLVE_AGAIN_MS) return;
    this.pending ??= (async () => {
      const addresses: Array<{ address: string; port: number; spec: string }> = [];
      for (const s of this.servers) {
        const spec = `${s.host}:${s.port}`;
        // A name that does not resolve now reaches nothing now; an address is its own resolution.
        const found = net.isIP(s.host) ? [s.host] : await this.lookup(s.host).catch(() => [] as string[]);
        for (const address of found) addresses.push({ address: plain(address), port: s.port, spec });
      }
      this.resolved = { at: this.now(), addresses };
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
