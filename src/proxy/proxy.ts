/**
 * startProxy(): mdmtap on the wire. One listening port that
 *  - in forward mode is an HTTP proxy: CONNECTs to `--mdm-host` hosts are decrypted with a leaf from the mdmtap CA,
 *    every other CONNECT is tunnelled as raw TCP (the device sees the real server's certificate);
 *  - in reverse mode speaks TLS itself (devices' ServerURL points here) and forwards to `--upstream`;
 *  - in both modes answers plain-HTTP requests addressed to itself: `/ca.pem`, `/ca.mobileconfig`, `/`.
 * Both modes share one forwarding core (forward.ts).
 */
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Exchange } from '../capture/exchange.js';
import { ensureCa, type CertificateAuthority } from './ca.js';
import { forward, type ForwardContext, type Target } from './forward.js';
import { authority, HostMatcher, parseHostPort } from './hosts.js';
import { agents } from './upstream.js';
import { serveCa } from './ca-download.js';
import type { PushSeen } from '../mdm/message.js';
import { createApnsInterceptor } from '../push/interceptor.js';
import { isApnsTarget } from '../push/hosts.js';

export interface ProxyOptions {
  host: string;
  port: number;
  /** Forward mode: HOST[:PORT] of the MDM hosts to decrypt. */
  mdmHosts: string[];
  /** Reverse mode: the MDM server's URL. */
  upstream?: string;
  /** PEM texts trusted for the upstream in addition to the system CAs. */
  upstreamCa?: string[];
  insecureUpstream?: boolean;
  /** Forward the device's TLS client certificate in this header (RFC 9440 `:base64-DER:`). */
  clientCertHeader?: string;
  certsDir: string;
  maxBody: number;
  onExchange(ex: Exchange): void;
  onError(e: { kind: string; message: string }): void;
  /**
   * APNs interception (`--apns-cert/--apns-key`): CONNECTs to Apple's push hosts are decrypted and re-originated
   * with the push certificate; without it they are tunnelled untouched like any other host.
   */
  apns?: { cert: string; key: string; upstream?: string; upstreamCa?: string[]; onPush(p: PushSeen): void };
}

export interface RunningProxy {
  port: number;
  address: string;
  caFingerprint: string;
  ca: CertificateAuthority;
  close(): Promise<void>;
}

const TLS_HANDSHAKE = 0x16;

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const ca = ensureCa(opts.certsDir);
  const matcher = new HostMatcher(opts.mdmHosts.map((h) => parseHostPort(h)));
  const upstream = opts.upstream ? reverseTarget(opts.upstream) : undefined;
  let seq = 0;
  let connSeq = 0;
  const ctx: ForwardContext = {
    agents: agents({ extraCa: opts.upstreamCa ?? [], insecure: opts.insecureUpstream === true }),
    maxBody: opts.maxBody,
    clientCertHeader: opts.clientCertHeader,
    onExchange: opts.onExchange,
    onError: safe(opts.onError),
    nextId: () => `${Date.now().toString(36)}-${(++seq).toString(36)}`,
  };
  const apns = opts.apns
    ? createApnsInterceptor({
        certFor: (name) => ca.leafFor(name),
        pushCert: opts.apns.cert,
        pushKey: opts.apns.key,
        ...(opts.apns.upstream ? { upstream: opts.apns.upstream } : {}),
        ...(opts.apns.upstreamCa ? { upstreamCa: opts.apns.upstreamCa } : {}),
        onPush: opts.apns.onPush,
        onError: safe(opts.onError),
      })
    : undefined;
  const sockets = new Set<net.Socket | Duplex>();
  const track = (s: net.Socket | Duplex) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const connIds = new WeakMap<object, string>();
  const targets = new WeakMap<object, Target>();
  const connId = (s: object) => {
    let id = connIds.get(s);
    if (!id) connIds.set(s, (id = `c${++connSeq}`));
    return id;
  };

  // Decrypted traffic: requests arrive on TLS sockets whose target was fixed by the CONNECT or by reverse mode.
  const inner = http.createServer({ keepAlive: true, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    const target = targets.get(req.socket) ?? upstream!;
    forward(req, res, target, ctx, connId(req.socket));
  });
  inner.on('clientError', (err, socket) => socket.destroy(err));

  const secureContexts = new Map<string, tls.SecureContext>();
  const contextFor = (name: string) => {
    let c = secureContexts.get(name);
    if (!c) secureContexts.set(name, (c = tls.createSecureContext(ca.leafFor(name))));
    return c;
  };
  // Issuing a leaf signs with the CA key in JS (tens of ms): do it now for the hosts already known, not while the
  // first device waits and every other connection stalls behind it.
  for (const h of opts.mdmHosts) contextFor(parseHostPort(h).host);
  const terminateTls = (socket: Duplex, fallbackName: string, target: Target | undefined) => {
    const tlsSocket = new tls.TLSSocket(socket as net.Socket, {
      isServer: true,
      secureContext: contextFor(fallbackName),
      SNICallback: (servername, cb) => {
        try {
          cb(null, contextFor(servername || fallbackName));
        } catch (e) {
          cb(e as Error);
        }
      },
      requestCert: Boolean(opts.clientCertHeader),
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    if (target) targets.set(tlsSocket, target);
    track(tlsSocket);
    tlsSocket.on('error', (e: Error) => {
      ctx.onError({ kind: 'tls', message: `TLS with the device failed (${fallbackName}): ${e.message}` });
      tlsSocket.destroy();
    });
    tlsSocket.once('secure', () => inner.emit('connection', tlsSocket));
  };

  const front = http.createServer({ keepAlive: true, requestTimeout: 0 }, (req, res) => {
    // Plain HTTP: a proxy request in absolute form (forward mode), or a request to mdmtap itself.
    const url = req.url ?? '/';
    if (/^https?:\/\//i.test(url)) {
      const u = new URL(url);
      const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      if (matcher.matches(u.hostname, port)) {
        req.url = u.pathname + u.search;
        const target: Target = { host: u.hostname, port, tls: u.protocol === 'https:', authority: authority(u.hostname, port, u.protocol === 'https:') };
        return forward(req, res, target, ctx, connId(req.socket));
      }
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end(`mdmtap only proxies plain HTTP to --mdm-host hosts; ${u.host} is not one\n`);
    }
    serveCa(req, res, ca);
  });
  front.on('clientError', (err, socket) => socket.destroy(err));

  front.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    let hp;
    try {
      hp = parseHostPort(req.url ?? '', 443);
    } catch {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    if (head.length) socket.unshift(head);
    if (matcher.matches(hp.host, hp.port)) {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      return terminateTls(socket, hp.host, { host: hp.host, port: hp.port, tls: true, authority: authority(hp.host, hp.port, true) });
    }
    if (apns && isApnsTarget(hp.host, hp.port)) {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      return apns.handleSocket(socket, hp.host, hp.port);
    }
    tunnel(socket, hp.host, hp.port, ctx);
  });

  // The listening socket: in reverse mode, a TLS ClientHello goes to the TLS terminator and plain HTTP to `front`.
  // No Nagle: an MDM exchange is request/response, and a body's last segment held back for an ACK that the
  // other side delays is 40 ms added to the exchange.
  const listener = net.createServer({ noDelay: true }, (socket) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    if (!upstream) return front.emit('connection', socket);
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (!first) return socket.destroy();
      socket.unshift(first);
      // Without SNI (a device addressing mdmtap by IP) the leaf is issued for the address it connected to.
      if (first[0] === TLS_HANDSHAKE) terminateTls(socket, (socket.localAddress ?? 'localhost').replace(/^::ffff:/, ''), upstream);
      else front.emit('connection', socket);
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      listener.off('listening', onListening);
      if (e.code === 'EADDRINUSE') reject(new Error(`port ${opts.port} is already in use on ${opts.host}`));
      else if (e.code === 'EACCES') reject(new Error(`not allowed to listen on ${opts.host}:${opts.port} (ports below 1024 need privileges)`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new Error(`${opts.host} is not an address of this machine`));
      else reject(new Error(`cannot listen on ${opts.host}:${opts.port}: ${e.message}`));
    };
    const onListening = () => {
      listener.off('error', onError);
      resolve();
    };
    listener.once('error', onError);
    listener.once('listening', onListening);
    listener.listen(opts.port, opts.host);
  });
  listener.on('error', (e) => ctx.onError({ kind: 'listen', message: e.message }));
  const addr = listener.address() as net.AddressInfo;

  return {
    port: addr.port,
    address: addr.address,
    caFingerprint: ca.fingerprint256,
    ca,
    close: () =>
      new Promise<void>((resolve) => {
        // Stop accepting, drop every connection, and do not wait on peers that never answer a close.
        const bound = setTimeout(resolve, 1000);
        bound.unref();
        listener.close(() => {
          clearTimeout(bound);
          resolve();
        });
        void apns?.close();
        for (const s of sockets) s.destroy();
        ctx.agents.http.destroy();
        ctx.agents.https.destroy();
        inner.close();
        inner.closeAllConnections();
        front.close();
        front.closeAllConnections();
      }),
  };
}

/** A CONNECT mdmtap does not decrypt: raw bytes both ways, untouched. */
function tunnel(client: Duplex, host: string, port: number, ctx: ForwardContext): void {
  const server = net.connect({ host, port });
  let connected = false;
  server.on('connect', () => {
    connected = true;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    server.pipe(client);
    client.pipe(server);
  });
  server.on('error', (e) => {
    if (!connected) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    else client.destroy();
    ctx.onError({ kind: 'upstream-unreachable', message: `tunnel to ${host}:${port}: ${e.message}` });
  });
  client.on('close', () => server.destroy());
  server.on('close', () => client.destroy());
}

function reverseTarget(url: string): Target {
  const u = new URL(url);
  const tlsOn = u.protocol === 'https:';
  const port = Number(u.port || (tlsOn ? 443 : 80));
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    tls: tlsOn,
    authority: authority(u.hostname, port, tlsOn),
    basePath: u.pathname === '/' ? '' : u.pathname,
    hostHeader: u.host,
    servername: u.hostname,
  };
}

function safe(fn: (e: { kind: string; message: string }) => void): (e: { kind: string; message: string }) => void {
  return (e) => {
    try {
      fn(e);
    } catch {
      // A sink failing on an error report must not turn into a second failure on the wire.
    }
  };
}
