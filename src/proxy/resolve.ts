/**
 * A host's addresses as the system resolves them, and a `lookup` for Node's clients that connects to one address
 * chosen beforehand (so what was checked is what is reached, whatever a second resolution would say).
 */
import dns from 'node:dns';
import net from 'node:net';
import type { LookupFunction } from 'node:net';

export async function resolveAll(host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  return (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

export function pinnedLookup(address: string): LookupFunction {
  const family = net.isIPv6(address) ? 6 : 4;
  return ((_host: string, opts: dns.LookupOptions, cb: (...args: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  }) as unknown as LookupFunction;
}
