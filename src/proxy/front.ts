/**
 * The plain-HTTP side of mdmtap's port: requests to mdmtap itself (the CA pages), absolute-form proxy requests
 * (forward mode) and CONNECT. Each request is answered, refused, tunnelled or handed to TLS termination here;
 * nothing reaches a server without passing through forward() or tunnel().
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { CertificateAuthority } from './ca.js';
import { serveCa } from './ca-download.js';
import type { Connection, ForwardContext, Target } from './forward.js';
import { forward } from './forward.js';
import { authority, type HostMatcher, parseHostPort, quotedTarget } from './hosts.js';
import type { ApnsInterceptor } from '../push/interceptor.js';
import { isApnsTarget } from '../mdm/apns-hosts.js';
import { answerRaw, forbidden, tunnel } from './tunnel.js';
import type { ServerAliases } from './server-aliases.js';
import { resolveAll } from './resolve.js';
import type { ProxyErrorKind } from './errors.js';

/** What the front door needs of the running proxy. */
export interface Front {
  ctx: ForwardContext;
  ca: CertificateAuthority;
  matcher: HostMatcher;
  /** Reverse mode: the server every decrypted request goes to; mdmtap is then no proxy. */
  upstream?: Target;
  apns?: ApnsInterceptor;
  /** A tunnel's connect and inactivity limits (--upstream-timeout, --tunnel-timeout). */
  tunnelLimits: { connectMs: number; idleMs: number };
  who(s: Duplex): string;
  connectionOf(s: Duplex): Connection;
  /** Forward mode: tells the MDM servers under other names, so that no unrecorded path leads to them. */
  aliases?: ServerAliases;
  /** Decrypts a CONNECTed socket for `name` and forwards its requests to `target`. */
  decrypt(socket: Duplex, name: string, target: Target): void;
}

/** mdmtap's own answer, closing the connection: a refusal, or a request that cannot be served. */
export function answer(ctx: ForwardContext, res: http.ServerResponse, status: number, kind: ProxyErrorKind | undefined, text: string, message?: string): void {
  if (kind) ctx.onError({ kind, message: message ?? text.trim() });
  res.shouldKeepAlive = false;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function answerStopping(ctx: ForwardContext, res: http.ServerResponse): void {
  answer(ctx, res, 503, undefined, 'mdmtap is stopping\n');
}

/** A plain-HTTP request: to mdmtap itself (a path), or a proxy request in absolute form (forward mode only). */
export function onPlainRequest(f: Front, req: http.IncomingMessage, res: http.ServerResponse): void {
  const { ctx } = f;
  const url = req.url ?? '/';
  if (url.startsWith('/')) return serveCa(req, res, f.ca);
  if (f.upstream) {
    return answer(ctx, res, 403, 'proxy-refused', `mdmtap (reverse mode) is not a proxy: ${req.method} ${quotedTarget(url)} refused\n`, `reverse mode refused ${req.method} ${quotedTarget(url)} from ${f.who(req.socket)}`);
  }
  let u: URL;
  try {
    u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`scheme ${u.protocol} is not http: or https:`);
  } catch (e) {
    return answer(ctx, res, 400, 'malformed-request', `mdmtap: malformed request target\n`, `from ${f.who(req.socket)}: request target "${quotedTarget(url)}": ${(e as Error).message}`);
  }
  if (ctx.draining()) return answerStopping(ctx, res);
  const tlsOn = u.protocol === 'https:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (tlsOn ? 443 : 80));
  req.url = u.pathname + u.search;
  const target: Target = { host, port, tls: tlsOn, authority: authority(host, port, tlsOn) };
  if (f.matcher.matches(host, port)) return forward(req, res, target, ctx, f.connectionOf(req.socket));
  // Hosts mdmtap does not decrypt are passed on untouched (captive-portal checks, OCSP, CRLs), not recorded — unless
  // the host is an MDM server under another name. The address checked is the one connected to.
  req.pause();
  // The connection counts as busy while the check runs, so requests it pipelines wait (in-flight.ts).
  const conn = f.connectionOf(req.socket);
  ctx.inFlight.begin(conn.key);
  void passOn(f, req, res, target, conn)
    .catch((e: Error) => {
      ctx.onError({ kind: 'internal', message: `passing on ${target.authority}: ${e.message}` });
      if (!res.destroyed) res.destroy();
    })
    .finally(() => ctx.inFlight.end(conn.key));
}

async function passOn(f: Front, req: http.IncomingMessage, res: http.ServerResponse, target: Target, conn: Connection): Promise<void> {
  const { ctx } = f;
  const addresses = await resolveAll(target.host).catch(() => [] as string[]);
  if (res.destroyed) return;
  for (const address of addresses) {
    const mdm = await f.aliases?.serverAt(address, target.port);
    if (mdm) {
      const text = `mdmtap: ${target.authority} is the MDM server ${mdm}; address it as ${mdm}\n`;
      return answer(ctx, res, 403, 'proxy-refused', text, `${req.method} ${target.authority} from ${f.who(req.socket)} reaches the MDM server ${mdm} under another name: refused`);
    }
  }
  req.resume();
  // No address: the request fails as it would have (Node's own lookup reports it).
  forward(req, res, addresses.length ? { ...target, address: addresses[0] } : target, ctx, conn, false);
}

/**
 * A CONNECT: decrypted for an `--mdm-host` (or APNs, when pushes are intercepted), refused in reverse mode,
 * tunnelled untouched otherwise.
 */
export function onConnect(f: Front, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const { ctx } = f;
  socket.on('error', () => socket.destroy());
  let hp;
  try {
    hp = parseHostPort(req.url ?? '', 443);
  } catch (e) {
    ctx.onError({ kind: 'malformed-request', message: `from ${f.who(socket)}: CONNECT ${String(req.url).slice(0, 100)}: ${(e as Error).message}` });
    answerRaw(socket, 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  if (ctx.draining()) return answerRaw(socket, 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
  if (head.length) socket.unshift(head);
  const decrypt = !f.upstream && f.matcher.matches(hp.host, hp.port);
  if (!decrypt && f.apns && isApnsTarget(hp.host, hp.port)) {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    return f.apns.handleSocket(socket, hp.host, hp.port);
  }
  if (f.upstream) {
    ctx.onError({ kind: 'proxy-refused', message: `reverse mode refused CONNECT ${hp.host}:${hp.port} from ${f.who(socket)}` });
    answerRaw(socket, forbidden(`mdmtap (reverse mode) is not a proxy: CONNECT ${hp.host}:${hp.port} refused\n`));
    return;
  }
  if (decrypt) {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    return f.decrypt(socket, hp.host, { host: hp.host, port: hp.port, tls: true, authority: authority(hp.host, hp.port, true) });
  }
  const aliases = f.aliases;
  tunnel(socket, hp.host, hp.port, f.tunnelLimits, ctx.onError, aliases ? (a, p) => aliases.serverAt(a, p) : undefined);
}
