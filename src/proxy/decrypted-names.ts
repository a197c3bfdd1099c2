/**
 * The TLS server names mdmtap issues leaves for: only the names it decrypts. A device (or anyone) naming another
 * host in its ClientHello gets the certificate of the connection's own name instead, and mdmtap signs nothing.
 *
 * - forward mode: the `--mdm-host` names (the CONNECT target itself is checked against them before any TLS);
 * - reverse mode: the upstream's host name (devices sent to mdmtap by DNS), `--server-name` names, this machine's
 *   name and `localhost`, and the address a device connected to (when its ClientHello names none);
 * - APNs hosts when their traffic is intercepted (`--apns-cert`).
 */
import os from 'node:os';
import { APNS_HOSTS } from '../mdm/apns-hosts.js';

export class DecryptedNames {
  private readonly names: Set<string>;

  constructor(names: Iterable<string>) {
    this.names = new Set([...names].map((n) => n.toLowerCase().replace(/^\[|\]$/g, '')));
  }

  has(name: string): boolean {
    return this.names.has(name.toLowerCase());
  }

  static of(opts: { mdmHosts: string[]; upstreamHost?: string; serverNames?: string[]; apns: boolean }): DecryptedNames {
    const names = [...opts.mdmHosts];
    if (opts.upstreamHost !== undefined) {
      const host = os.hostname().toLowerCase();
      names.push(opts.upstreamHost, 'localhost', host, ...(host.includes('.') ? [] : [`${host}.local`]), ...(opts.serverNames ?? []));
    }
    if (opts.apns) names.push(...APNS_HOSTS);
    return new DecryptedNames(names);
  }
}
