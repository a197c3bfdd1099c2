/**
 * startProxy(): mdmtap on the wire. One listening port that
 *  - in forward mode is an HTTP proxy: CONNECTs to `--mdm-host` hosts are decrypted with a leaf from the mdmtap CA,
 *    every other CONNECT is tunnelled as raw TCP (the device sees the real server's certificate), and plain HTTP
 *    for other hosts is passed on untouched;
 *  - in reverse mode speaks TLS itself (devices' ServerURL points here) and forwards to `--upstream`. It is not a
 *    proxy: CONNECT (except to APNs, when pushes are intercepted) and absolute-form requests are refused;
 *  - in both modes answers plain-HTTP requests addressed to itself: `/ca.pem`, `/ca.mobileconfig`, `/`.
 * Both modes share one forwarding core (forward.ts). Who may connect (client-filter.ts), how many at once, and
 * how long each step may take (timeouts.ts) are decided here, before a byte reaches a parser.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Exchange } from '../model/exchange.js';
import { ensureCa, type CaKeyType, type CertificateAuthority } from './ca.js';
import { forward, type ForwardContext, type Target } from './forward.js';
import { authority, HostMatcher, parseHostPort, quotedTarget } from './hosts.js';
import { agents } from './upstream.js';
import type { PushSeen } from '../model/message.js';
import { createApnsInterceptor } from '../push/interceptor.js';
import { answer, answerStopping, onConnect, onPlainRequest, type Front } from './front.js';
import { ClientFilter, parseCidr } from './client-filter.js';
import { certHeaderMatcher } from './cert-header.js';
import { CopyBudget } from './copy-budget.js';
import { DecryptedNames } from './decrypted-names.js';
import { LeafContexts } from './leaf-contexts.js';
import { InFlight } from './in-flight.js';
import { DeviceConnections } from './connections.js';
import { clientErrorHandler } from './client-error.js';
import { tlsTerminator } from './tls-terminator.js';
import { admittingListener, listenOn } from './admission.js';
import { deadline, DEFAULT_TIMEOUTS, serverTimeoutOptions, startRequestClocks, type Timeouts } from './timeouts.js';
import { SetupError, type ProxyError } from './errors.js';
import { fileProblem } from '../util/file-errors.js';
import { ServerAliases } from './server-aliases.js';

export interface ProxyOptions {
  host: string;
  port: number;
  /** Forward mode: HOST[:PORT] of the MDM hosts to decrypt. */
  mdmHosts: string[];
  /** Reverse mode: the MDM server's URL. */
  upstream?: string;
  /** Reverse mode: further names devices use to reach mdmtap (certificates are issued for them). */
  serverNames?: string[];
  /** PEM texts trusted for the upstream in addition to the system CAs. */
  upstreamCa?: string[];
  insecureUpstream?: boolean;
  /** Forward the device's TLS client certificate in this header (RFC 9440 `:base64-DER:`). */
  clientCertHeader?: string;
  certsDir: string;
  /** The key of a CA created now (an existing CA keeps its own). */
  caKeyType?: CaKeyType;
  maxBody: number;
  /** Bytes of analysis copies held at once across all exchanges in flight (default 256 MiB). */
  bodyBudget?: number;
  /** Device connections at once; more are closed on arrival (default 4096). */
  maxConnections?: number;
  timeouts?: Partial<Timeouts>;
  /** CIDR blocks (or addresses) of public clients allowed in; private, loopback and link-local always are. */
  allowClients?: string[];
  /** Who may connect, when not the default policy with `allowClients`. */
  clientFilter?: ClientFilter;
  onExchange(ex: Exchange): void;
  onError(e: ProxyError): void;
  /**
   * APNs interception (`--apns-cert/--apns-key`): CONNECTs to Apple's push hosts are decrypted and re-originated
   * with the push certificate; without it they are tunnelled untouched like any other host (forward mode) or
   * refused (reverse mode).
   */
  apns?: {
    cert: string;
    key: string;
    upstream?: string;
    upstreamCa?: string[];
    onPush(p: PushSeen): void;
    /** How APNs names are resolved (tests point Apple's names at 127.0.0.1, so nothing leaves the machine). */
    lookup?: net.LookupFunction;
  };
}

export interface RunningProxy {
  port: number;
  address: string;
  caFingerprint: string;
  ca: CertificateAuthority;
  /** Leaves issued since start (names mdmtap decrypts only). */
  leavesIssued(): number;
  /** Bytes of analysis copies held right now (bounded by the body budget). */
  copiesInFlight(): number;
  /** Sockets open to servers right now. */
  upstreamSockets(): number;
  /**
   * Stops accepting, closes what carries no exchange, lets exchanges in progress finish (bounded) and resolves once
   * every exchange is handed to `onExchange`: nothing a device received is lost to a stop.
   */
  close(): Promise<void>;
}

export const DEFAULT_MAX_CONNECTIONS = 4096;
export const DEFAULT_BODY_BUDGET = 256 * 1024 * 1024;
/** How long a stop waits for exchanges in progress before cutting them off (they are then recorded as failed). */
const DRAIN_MS = 5000;
const TLS_HANDSHAKE = 0x16;
/** Requests a connection may send ahead of the answers it waits for (devices send one at a time). */
const MAX_PIPELINED = 32;

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  let ca: CertificateAuthority;
  try {
    ca = await ensureCa(opts.certsDir, opts.caKeyType ? { keyType: opts.caKeyType } : {});
  } catch (e) {
    throw new SetupError(`cannot create or read the CA in ${opts.certsDir}: ${fileProblem(e)}`);
  }
  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const mdmHosts = opts.mdmHosts.map((h) => parseHostPort(h));
  const upstream = opts.upstream ? reverseTarget(opts.upstream) : undefined;
  const names = DecryptedNames.of({ mdmHosts: mdmHosts.map((h) => h.host), upstreamHost: upstream?.host, serverNames: opts.serverNames, apns: Boolean(opts.apns) });
  const leaves = new LeafContexts(ca);
  let draining = false;
  const ctx = forwardContext(opts, timeouts, maxConnections, () => draining);
  const { onError } = ctx;
  // Leaves for the names known now are issued before the first device arrives.
  await Promise.all([...mdmHosts.map((h) => leaves.get(h.host)), ...(upstream ? [leaves.get(upstream.host)] : [])]);
  const apns = opts.apns ? await apnsInterceptor(opts.apns, ca, leaves, names, timeouts, onError) : undefined;

  const connections = new DeviceConnections();
  const who = (s: Duplex) => connections.who(s);
  const targets = new WeakMap<object, Target>();
  const clientError = clientErrorHandler({ timeouts, cutOff: ctx.cutOff, who, onError });

  // Decrypted traffic: requests arrive on TLS sockets whose target was fixed by the CONNECT or by reverse mode.
  const decrypted = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.socket.destroyed) return; // a pipelined request whose connection closed while it waited
    if (draining) return answerStopping(ctx, res);
    const url = req.url ?? '';
    if (!url.startsWith('/')) {
      return answer(ctx, res, 400, 'malformed-request', `mdmtap: the request target must be a path, not "${quotedTarget(url)}"\n`, `from ${who(req.socket)}: request target "${quotedTarget(url)}" is not a path`);
    }
    forward(req, res, targets.get(connections.raw(req.socket)) ?? upstream!, ctx, connections.of(req.socket));
  };
  // One exchange at a time per connection (in-flight.ts): pipelined requests wait their turn.
  const oneAtATime = (req: http.IncomingMessage, start: () => void) => {
    if (ctx.inFlight.whenFree(connections.of(req.socket).key, start, MAX_PIPELINED)) return;
    onError({ kind: 'malformed-request', message: `${who(req.socket)} sent more than ${MAX_PIPELINED} requests without waiting for answers: connection closed` });
    req.socket.destroy();
  };
  const inner = http.createServer({ noDelay: true, ...serverTimeoutOptions(timeouts) }, (req, res) => oneAtATime(req, () => decrypted(req, res)));
  inner.on('clientError', clientError);
  startRequestClocks(inner);

  const terminate = tlsTerminator({
    leaves,
    names,
    requestCert: Boolean(opts.clientCertHeader),
    reverse: Boolean(upstream),
    who,
    onError,
    onWrap: (tlsSocket, socket) => connections.link(tlsSocket, socket),
    onSecure: (tlsSocket) => inner.emit('connection', tlsSocket),
  });
  const handshakeClock = (socket: Duplex) =>
    deadline(socket, timeouts.handshakeMs, () => onError({ kind: 'timeout', message: `${who(socket)} did not complete a TLS handshake within ${timeouts.handshakeMs} ms` }));
  const decrypt = (socket: Duplex, name: string, target: Target, stopClock = handshakeClock(socket)) => {
    targets.set(connections.raw(socket), target);
    terminate(socket, name, stopClock);
  };

  const front: Front = {
    ctx, ca, matcher: new HostMatcher(mdmHosts), tunnelLimits: { connectMs: timeouts.upstreamMs, idleMs: timeouts.tunnelMs }, who, decrypt,
    connectionOf: (s) => connections.of(s),
    ...(upstream ? { upstream } : { aliases: new ServerAliases(mdmHosts) }),
    ...(apns ? { apns } : {}),
  };
  const plain = http.createServer({ noDelay: true, ...serverTimeoutOptions(timeouts) }, (req, res) =>
    oneAtATime(req, () => req.socket.destroyed || onPlainRequest(front, req, res)),
  );
  plain.on('clientError', clientError);
  plain.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => onConnect(front, req, socket, head));
  startRequestClocks(plain);

  // In reverse mode, a TLS ClientHello goes to the TLS terminator and plain HTTP to `plain`.
  const listener = admittingListener({
    filter: opts.clientFilter ?? new ClientFilter((opts.allowClients ?? []).map(parseCidr)),
    maxConnections,
    connections,
    accepting: () => !draining,
    onError,
    onConnection: (socket) => {
      if (!upstream) return void plain.emit('connection', socket);
      const stopClock = handshakeClock(socket);
      socket.once('readable', () => {
        const first = socket.read(1) as Buffer | null;
        if (!first) return socket.destroy();
        socket.unshift(first);
        // Without SNI (a device addressing mdmtap by IP) the leaf is issued for the address it connected to.
        if (first[0] === TLS_HANDSHAKE) return decrypt(socket, (socket.localAddress ?? 'localhost').replace(/^::ffff:/, ''), upstream, stopClock);
        stopClock();
        plain.emit('connection', socket);
      });
    },
  });
  await listenOn(listener, opts.host, opts.port);
  listener.on('error', (e) => onError({ kind: 'listen', message: e.message }));
  const addr = listener.address() as net.AddressInfo;

  let closing: Promise<void> | undefined;
  const close = async () => {
    draining = true;
    listener.close();
    void apns?.close();
    await drain(connections, ctx);
    inner.close();
    plain.close();
  };

  return {
    port: addr.port,
    address: addr.address,
    caFingerprint: ca.fingerprint256,
    ca,
    leavesIssued: () => leaves.issued,
    copiesInFlight: () => ctx.budget.inFlight,
    upstreamSockets: () => [ctx.agents.http, ctx.agents.https].reduce((n, a) => n + Object.values(a.sockets).reduce((m, l) => m + (l?.length ?? 0), 0), 0),
    close: () => (closing ??= close()),
  };
}

/** What every forwarded exchange shares: upstream agents, the copy budget, timeouts, and where results go. */
function forwardContext(opts: ProxyOptions, timeouts: Timeouts, maxConnections: number, draining: () => boolean): ForwardContext {
  const onError = safe(opts.onError);
  let seq = 0;
  let idMs = 0;
  let idPrefix = '';
  return {
    agents: agents({ extraCa: opts.upstreamCa ?? [], insecure: opts.insecureUpstream === true, maxSockets: maxConnections, timeoutMs: timeouts.upstreamMs }),
    maxBody: opts.maxBody,
    budget: new CopyBudget(opts.bodyBudget ?? DEFAULT_BODY_BUDGET, (message) => onError({ kind: 'copy-budget', message })),
    ...(opts.clientCertHeader ? { clientCertHeader: opts.clientCertHeader, isCertHeader: certHeaderMatcher(opts.clientCertHeader) } : {}),
    upstreamTimeoutMs: timeouts.upstreamMs,
    inFlight: new InFlight(),
    cutOff: new WeakMap(),
    draining,
    onExchange: opts.onExchange,
    onError,
    nextId: () => {
      // The time's base-36 text is made once per millisecond, not once per exchange.
      const ms = Date.now();
      if (ms !== idMs) {
        idMs = ms;
        idPrefix = `${ms.toString(36)}-`;
      }
      return idPrefix + (++seq).toString(36);
    },
  };
}

/** APNs interception: Apple's push hosts get leaves of their own, and pushes are re-originated with the push certificate. */
async function apnsInterceptor(apns: NonNullable<ProxyOptions['apns']>, ca: CertificateAuthority, leaves: LeafContexts, names: DecryptedNames, timeouts: Timeouts, onError: (e: ProxyError) => void) {
  return createApnsInterceptor({
    defaultCert: await ca.issue('api.push.apple.com'),
    contextFor: (name) => leaves.get(names.has(name) ? name : 'api.push.apple.com'),
    pushCert: apns.cert,
    pushKey: apns.key,
    ...(apns.upstream ? { upstream: apns.upstream } : {}),
    ...(apns.upstreamCa ? { upstreamCa: apns.upstreamCa } : {}),
    ...(apns.lookup ? { lookup: apns.lookup } : {}),
    onPush: apns.onPush,
    onError,
    handshakeTimeoutMs: timeouts.handshakeMs,
    idleTimeoutMs: timeouts.tunnelMs,
  });
}

/**
 * A stop's drain: what carries no exchange goes now (handshakes, tunnels, idle keep-alive connections); exchanges
 * in progress finish and are handed over, and past the bound are cut off (and recorded as such).
 */
async function drain(connections: DeviceConnections, ctx: ForwardContext): Promise<void> {
  for (const s of connections.sockets) if (!ctx.inFlight.busy(s)) s.destroy();
  if (!(await ctx.inFlight.idle(DRAIN_MS))) {
    for (const s of connections.sockets) s.destroy();
    await ctx.inFlight.idle(1000);
  }
  for (const s of connections.sockets) s.destroy();
  ctx.agents.http.destroy();
  ctx.agents.https.destroy();
}

function reverseTarget(url: string): Target {
  const u = new URL(url);
  const tlsOn = u.protocol === 'https:';
  const port = Number(u.port || (tlsOn ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port,
    tls: tlsOn,
    authority: authority(host, port, tlsOn),
    basePath: u.pathname === '/' ? '' : u.pathname,
    hostHeader: u.host,
  };
}

function safe(fn: (e: ProxyError) => void): (e: ProxyError) => void {
  return (e) => {
    try {
      fn(e);
    } catch {
      // A sink failing on an error report must not turn into a second failure on the wire.
    }
  };
}
