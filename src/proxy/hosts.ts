/** `--mdm-host HOST[:PORT]`: the only CONNECT targets mdmtap decrypts. */
export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultPort = 443): HostPort {
  const t = text.trim().toLowerCase();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:]+)(?::(\d+))?$/.exec(t);
  if (!m || !m[1]) throw new Error(`"${text}" is not HOST[:PORT]`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${text}": port must be 1-65535`);
  return { host: m[1], port };
}

export class HostMatcher {
  private readonly set: Set<string>;

  constructor(hosts: HostPort[]) {
    this.set = new Set(hosts.map((h) => `${h.host}:${h.port}`));
  }

  matches(host: string, port: number): boolean {
    return this.set.has(`${host.toLowerCase()}:${port}`);
  }
}

/** host, with ":port" unless it is the scheme's default: how exchanges name their server. */
export function authority(host: string, port: number, tls: boolean): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === (tls ? 443 : 80) ? h : `${h}:${port}`;
}

/**
 * A request target as it may be quoted in a message: at most 100 characters, with any credentials of an absolute
 * URL (`http://user:password@host/`) left out, since messages reach the screen, the JSON lines and the capture.
 */
export function quotedTarget(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, '$1…@').slice(0, 100);
}
