/**
 * APNs interception: the MDM server reaches Apple's push service through mdmtap (HTTPS_PROXY), mdmtap terminates
 * that TLS with ALPN h2 (a leaf from its CA), and re-originates every HTTP/2 request to APNs with the MDM push
 * certificate (mutual TLS). Requests and responses pass unchanged; each `POST /3/device/<token>` becomes a PushSeen
 * that ties the push to a device through the token map. When APNs cannot be reached the server gets a 502 — mdmtap
 * never pretends a push succeeded.
 *
 * Where a request goes is the CONNECT's APNs host and port (or --apns-upstream), never the name in the ClientHello:
 * any admitted client can CONNECT to an APNs name, and a server name of its choosing would have sent its requests,
 * with mdmtap's push certificate, to any host. Connections on both sides close after `idleTimeoutMs` without a frame.
 */
import http2 from 'node:http2';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import net from 'node:net';
import type { PushSeen } from '../model/message.js';
import { sha256Hex } from '../mdm/hash.js';
import type { ProxyError } from '../proxy/errors.js';
import { quotedTarget } from '../proxy/hosts.js';

export interface ApnsInterceptorOptions {
  /** The certificate for a ClientHello without a name (api.push.apple.com's). */
  defaultCert: { cert: string; key: string };
  /** The context for a named APNs host (the proxy issues leaves only for APNs names). */
  contextFor(servername: string): Promise<tls.SecureContext>;
  pushCert: string;
  pushKey: string;
  /** Replaces Apple's origin (a lab or test APNs): `--apns-upstream`. */
  upstream?: string;
  /** Extra CAs for the upstream, added to the system's. */
  upstreamCa?: string[];
  /** How the upstream's name is resolved (the system's unless given). */
  lookup?: net.LookupFunction;
  onPush(p: PushSeen): void;
  onError(e: ProxyError): void;
  /** The MDM server's TLS handshake with mdmtap must complete within this (`--handshake-timeout`). */
  handshakeTimeoutMs?: number;
  /** A connection, the MDM server's or mdmtap's to APNs, with nothing either way this long is closed (`--tunnel-timeout`). */
  idleTimeoutMs?: number;
  now?: () => number;
}

export interface ApnsInterceptor {
  handleSocket(socket: Duplex, host: string, port: number): void;
  close(): Promise<void>;
}

/** HTTP/2 connection-specific headers are never forwarded (RFC 9113 §8.2.2). */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);
const MAX_BODY = 8 * 1024;

export function createApnsInterceptor(opts: ApnsInterceptorOptions): ApnsInterceptor {
  const now = opts.now ?? Date.now;
  const upstreamSessions = new Map<string, http2.ClientHttp2Session>();
  const serverSessions = new Set<http2.ServerHttp2Session>();
  // One TLS server per APNs host and port CONNECTed to (a handful: isApnsTarget), each re-originating to its own.
  const servers = new Map<string, http2.Http2SecureServer>();

  const createServer = (origin: string) => {
    const server = http2.createSecureServer({
      // Leaves are issued off the event loop: the callback answers when the context is ready.
      SNICallback: (name, cb) => {
        if (!name) return cb(null, undefined);
        opts.contextFor(name).then((c) => cb(null, c), (e: Error) => cb(e));
      },
      cert: opts.defaultCert.cert,
      key: opts.defaultCert.key,
      ALPNProtocols: ['h2'],
      allowHTTP1: false,
      // A handshake past this is abandoned and reported through 'tlsClientError' (Node's own option for TLS servers).
      ...(opts.handshakeTimeoutMs ? { handshakeTimeout: opts.handshakeTimeoutMs } : {}),
    });
    // With no 'timeout' listener, Node closes a session idle this long (GOAWAY), the TLS connection with it — also
    // one that never sent the HTTP/2 preface.
    if (opts.idleTimeoutMs) server.setTimeout(opts.idleTimeoutMs);
    server.on('session', (s) => {
      serverSessions.add(s);
      s.on('close', () => serverSessions.delete(s));
      s.on('error', () => s.destroy());
    });
    server.on('tlsClientError', (e: Error) => opts.onError({ kind: 'tls', message: `TLS with the MDM server's push client failed: ${e.message}` }));
    server.on('stream', (stream, headers) => onStream(origin, stream, headers));
    return server;
  };

  const upstreamFor = (origin: string): http2.ClientHttp2Session => {
    const existing = upstreamSessions.get(origin);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const u = new URL(origin);
    const session = http2.connect(origin, {
      cert: opts.pushCert,
      key: opts.pushKey,
      ...(opts.upstreamCa?.length ? { ca: [...tls.rootCertificates, ...opts.upstreamCa] } : {}),
      ...(opts.lookup ? { lookup: opts.lookup } : {}),
      // SNI carries host names only (RFC 6066 §3); Node warns (DEP0123) when given an address.
      servername: net.isIP(u.hostname.replace(/^\[|\]$/g, '')) ? '' : u.hostname,
    });
    session.on('error', () => session.destroy());
    if (opts.idleTimeoutMs) session.setTimeout(opts.idleTimeoutMs, () => session.close());
    session.on('close', () => {
      if (upstreamSessions.get(origin) === session) upstreamSessions.delete(origin);
    });
    upstreamSessions.set(origin, session);
    return session;
  };

  const onStream = (origin: string, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const path = String(headers[':path'] ?? '/');
    const method = String(headers[':method'] ?? 'GET');
    const token = /^\/3\/device\/([0-9A-Za-z]+)/.exec(path)?.[1];
    const bodyChunks: Buffer[] = [];
    let bodySize = 0;
    const out: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) {
      if (k.startsWith(':') || DROP.has(k) || v === undefined) continue;
      out[k] = v;
    }
    out[':method'] = method;
    out[':path'] = path;
    let seen = false;
    const report = (status: number, reason?: string) => {
      if (seen || !token) return;
      seen = true;
      const hex = token.toLowerCase();
      const p: PushSeen = { ts: now(), tokenHash: sha256Hex(hex), tokenPrefix: hex.slice(0, 8), apnsStatus: status };
      const magic = jsonString(Buffer.concat(bodyChunks), 'mdm');
      if (magic !== undefined) p.pushMagicHash = sha256Hex(magic);
      if (reason) p.reason = reason;
      // The headers that decide whether and when APNs delivers (absent when the server sends none).
      const header = (name: string) => (typeof headers[name] === 'string' ? (headers[name] as string) : undefined);
      const expiration = header('apns-expiration');
      const priority = header('apns-priority');
      const topic = header('apns-topic');
      if (expiration !== undefined) p.apnsExpiration = expiration;
      if (priority !== undefined) p.apnsPriority = priority;
      if (topic !== undefined) p.apnsTopic = topic;
      try {
        opts.onPush(p);
      } catch (e) {
        opts.onError({ kind: 'internal', message: (e as Error).message });
      }
    };
    let answered = 0;
    const fail = (e: Error) => {
      opts.onError({ kind: 'apns-unreachable', message: `APNs ${quotedTarget(origin)}: ${e.message}` });
      if (!stream.headersSent && !stream.destroyed) {
        stream.respond({ ':status': 502, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ reason: 'mdmtap: APNs could not be reached' }));
      } else stream.destroy();
      // APNs answered before the stream broke: its status stands (0 would count as a push APNs never saw).
      report(answered, e.message);
    };
    stream.on('data', (c: Buffer) => {
      if (bodySize < MAX_BODY) bodyChunks.push(c.subarray(0, MAX_BODY - bodySize));
      bodySize += c.length;
    });
    stream.on('error', () => stream.destroy());
    let up: http2.ClientHttp2Stream;
    try {
      up = upstreamFor(origin).request(out);
    } catch (e) {
      return fail(e as Error);
    }
    up.on('error', fail);
    up.on('response', (resHeaders) => {
      const status = Number(resHeaders[':status'] ?? 0);
      answered = status;
      const back: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(resHeaders)) if (!k.startsWith(':') && !DROP.has(k) && v !== undefined) back[k] = v;
      back[':status'] = status;
      if (!stream.destroyed) stream.respond(back);
      // APNs's reason is a short JSON object; an error body beyond that is not kept (an --apns-upstream may be anyone).
      const resChunks: Buffer[] = [];
      let resSize = 0;
      up.on('data', (c: Buffer) => {
        if (status >= 400 && resSize < MAX_BODY) resChunks.push(c.subarray(0, MAX_BODY - resSize));
        resSize += c.length;
      });
      up.pipe(stream);
      up.on('end', () => report(status, status >= 400 ? jsonString(Buffer.concat(resChunks), 'reason') : undefined));
    });
    stream.pipe(up);
  };

  return {
    handleSocket(socket, host, port) {
      // The server asked for this APNs host (front.ts checked it is one): re-originate there unless --apns-upstream says otherwise.
      const target = `${host.toLowerCase()}:${port}`;
      let server = servers.get(target);
      if (!server) servers.set(target, (server = createServer(opts.upstream ?? `https://${target}`)));
      socket.on('error', () => socket.destroy());
      server.emit('connection', socket);
    },
    close: async () => {
      for (const s of serverSessions) s.destroy();
      for (const s of upstreamSessions.values()) s.destroy();
      upstreamSessions.clear();
      for (const s of servers.values()) s.close();
    },
  };
}

/** A string field of a small JSON body (the push's `mdm`, APNs's `reason`), or undefined. */
function jsonString(body: Buffer, key: string): string | undefined {
  try {
    const v = (JSON.parse(body.toString('utf8')) as Record<string, unknown>)[key];
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
