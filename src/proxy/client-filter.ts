/**
 * Who may use mdmtap, like mitmproxy's `block_global`: clients from addresses that are not globally reachable
 * (loopback, private, link-local, shared/CGNAT and the other non-global blocks of IANA's special-purpose
 * registries) are served; a client from a public address is dropped at once, before mdmtap reads a byte from it,
 * unless an `--allow-client CIDR` covers it. An IPv4 client on a dual-stack socket arrives as an IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`) and is judged by its IPv4 address.
 */
import net from 'node:net';

/** Not globally reachable (IANA IPv4/IPv6 Special-Purpose Address Registries, "Globally Reachable: False"). */
const LOCAL_V4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15'];
const LOCAL_V6 = ['::1/128', '::/128', 'fc00::/7', 'fe80::/10'];

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `a.b.c.d/n`, `x::y/n`, or a bare address (a single host). Throws a one-line message on anything else. */
export function parseCidr(text: string): Cidr {
  const [address, bits, extra] = text.trim().split('/');
  const v = net.isIP(address ?? '');
  if (!v || extra !== undefined) throw new Error(`"${text}" is not an address or CIDR block (write it like 203.0.113.0/24 or 2001:db8::/32)`);
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!/^\d+$/.test(bits ?? String(max)) || prefix > max) throw new Error(`"${text}": the prefix length must be 0-${max}`);
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

export class ClientFilter {
  private readonly local = new net.BlockList();
  private readonly allowed = new net.BlockList();

  /** `local`: the blocks served without asking (IANA's non-global blocks unless given: tests narrow it). */
  constructor(allow: Cidr[] = [], local: Cidr[] = [...LOCAL_V4, ...LOCAL_V6].map(parseCidr)) {
    for (const c of local) this.local.addSubnet(c.address, c.prefix, c.family);
    for (const c of allow) this.allowed.addSubnet(c.address, c.prefix, c.family);
  }

  /** Whether a client at `address` (as node:net reports a peer) may connect. */
  admits(address: string | undefined): boolean {
    if (!address) return false;
    const [plain, family] = unmapped(address);
    return this.local.check(plain, family) || this.allowed.check(plain, family);
  }
}

/** `::ffff:192.0.2.1` → `192.0.2.1`: a mapped client is the IPv4 host it is, for every rule. */
function unmapped(address: string): [string, 'ipv4' | 'ipv6'] {
  const zoneless = address.replace(/%.*$/, '');
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(zoneless);
  if (m) return [m[1], 'ipv4'];
  return [zoneless, net.isIPv4(zoneless) ? 'ipv4' : 'ipv6'];
}
