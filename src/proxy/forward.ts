/**
 * The forwarding core, shared by forward and reverse mode: one device request streamed to the server and the
 * response streamed back, both byte-exact, while a capped copy of each body is taken for analysis. The Exchange
 * is handed over only once the response has been fully sent (or the exchange failed), and off the request's
 * path, so nothing mdmtap does with it can delay or break the device's connection.
 *
 * Everything here that reads what a device or a server sent is guarded: a request Node's client refuses to build
 * is the device's fault (400, `malformed-request`), a response that cannot be relayed is the server's (502,
 * `bad-upstream-response`); neither reaches the process.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Readable, Writable } from 'node:stream';
import type { Exchange, ExchangeError, Headers } from '../model/exchange.js';
import { BodyTap } from './body-tap.js';
import type { CopyBudget } from './copy-budget.js';
import type { InFlight } from './in-flight.js';
import { upstreamErrorKind, upstreamFailureText, type UpstreamErrorKind } from './upstream.js';
import type { ProxyError } from './errors.js';
import { SCAN_REPLY, SCAN_REQUEST } from '../mdm/classify.js';
import { pinnedLookup } from './resolve.js';

export interface Target {
  /** Where to connect. */
  host: string;
  port: number;
  tls: boolean;
  /** The server as the device addressed it (the Exchange's host). */
  authority: string;
  /** Reverse mode: the upstream's base path, prefixed to the device's path. */
  basePath?: string;
  /** Reverse mode: the Host header the upstream expects. */
  hostHeader?: string;
  /** The address to connect to, chosen (and checked) beforehand; `host` still names the server for TLS. */
  address?: string;
}

export interface ForwardContext {
  agents: { http: http.Agent; https: https.Agent };
  maxBody: number;
  budget: CopyBudget;
  /** `--client-cert-header` as given, and the test for every spelling of it (cert-header.ts). */
  clientCertHeader?: string;
  isCertHeader?: (name: string) => boolean;
  upstreamTimeoutMs: number;
  inFlight: InFlight;
  /** Device connections Node's parser gave up on, and why (the exchange then fails as that, not `client-aborted`). */
  cutOff: WeakMap<object, 'timeout' | 'malformed-request'>;
  /** Set once a stop has begun: exchanges still running finish, and their connections close after them. */
  draining(): boolean;
  onExchange(ex: Exchange): void;
  onError(e: ProxyError): void;
  nextId(): string;
}

/** The device connection an exchange runs on: its id in the capture, and the key it is tracked by. */
export interface Connection {
  id: string;
  key: object;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade']);

/**
 * Forwards one request. `record` false: plain HTTP to a host mdmtap does not decrypt (forward mode), passed on
 * untouched like a CONNECT tunnel — no copy, no Exchange.
 */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, target: Target, ctx: ForwardContext, conn: Connection, record = true): void {
  const startedAt = Date.now();
  const id = ctx.nextId();
  // Not recorded (plain HTTP to a host mdmtap does not decrypt): nothing copied, nothing scanned.
  const reqTap = new BodyTap(record ? ctx.maxBody : 0, ctx.budget, record ? SCAN_REQUEST : undefined);
  const resTap = new BodyTap(record ? ctx.maxBody : 0, ctx.budget, record ? SCAN_REPLY : undefined);
  const path = (target.basePath ? target.basePath.replace(/\/$/, '') : '') + (req.url ?? '/');
  ctx.inFlight.begin(conn.key);
  if (ctx.draining()) res.shouldKeepAlive = false;

  // Raw header pairs keep the device's order and spelling; only hop-by-hop and the client-cert header go.
  const outHeaders: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP.has(name) || ctx.isCertHeader?.(name)) continue;
    if (name === 'host' && target.hostHeader) {
      outHeaders.push(raw[i], target.hostHeader);
      continue;
    }
    outHeaders.push(raw[i], raw[i + 1]);
  }
  if (ctx.clientCertHeader && record) {
    // Set only from the TLS handshake mdmtap itself did: an incoming header of that name was dropped above.
    const der = clientCertDer(req.socket as TLSSocket);
    if (der) outHeaders.push(ctx.clientCertHeader, `:${der.toString('base64')}:`);
  }

  let status = 0;
  let responseHeaders: Headers = {};
  let error: ExchangeError | undefined;
  let done = false;
  /** `keep` false: nothing reached the server (a malformed request), so there is no exchange to record. */
  const finish = (keep = record) => {
    if (done) return;
    done = true;
    // A connection kept alive past a stop would only wait for the final cut: close it once its answer is out.
    if (ctx.draining() && !req.socket.destroyed) req.socket.destroySoon();
    if (!keep) {
      ctx.inFlight.end(conn.key);
      return;
    }
    const ex: Exchange = {
      id,
      connectionId: conn.id,
      startedAt,
      endedAt: Date.now(),
      host: target.authority,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      requestHeaders: flatten(req.headers),
      requestBody: reqTap.bytes(),
      requestTruncated: reqTap.truncated,
      requestSize: reqTap.size,
      status,
      responseHeaders,
      responseBody: resTap.bytes(),
      responseTruncated: resTap.truncated,
      responseSize: resTap.size,
      ...(error ? { error } : {}),
    };
    const reqScan = reqTap.scan();
    const resScan = resTap.scan();
    if (reqScan) ex.requestScan = reqScan;
    if (resScan) ex.responseScan = resScan;
    // Analysis runs after this tick: the device's response is already on its way.
    setImmediate(() => {
      try {
        ctx.onExchange(ex);
      } catch (e) {
        ctx.onError({ kind: 'internal', message: (e as Error)?.message ?? String(e) });
      } finally {
        reqTap.release();
        resTap.release();
        ctx.inFlight.end(conn.key);
      }
    });
  };

  /** The exchange fails before a response reached the device: a status of mdmtap's own, then the record. */
  const fail = (kind: UpstreamErrorKind | 'malformed-request', statusCode: number, text: string, message: string) => {
    if (done) return;
    if (kind !== 'malformed-request') error = { kind, message };
    ctx.onError({ kind, message });
    if (!res.headersSent && !res.destroyed) {
      res.shouldKeepAlive = false;
      res.writeHead(statusCode, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    } else {
      res.destroy();
    }
    finish(record && kind !== 'malformed-request');
  };

  let upReq: http.ClientRequest;
  try {
    upReq = (target.tls ? https : http).request({
      host: target.host,
      port: target.port,
      method: req.method,
      path,
      headers: outHeaders as unknown as http.OutgoingHttpHeaders,
      agent: target.tls ? ctx.agents.https : ctx.agents.http,
      ...(target.address ? { lookup: pinnedLookup(target.address) } : {}),
      timeout: ctx.upstreamTimeoutMs,
      // SNI carries host names only (RFC 6066 §3); Node warns (DEP0123) when given an address.
      ...(target.tls ? { servername: net.isIP(target.host) ? '' : target.host } : {}),
    });
  } catch (e) {
    // Node refuses to build the request from what the device sent (a path or header it cannot put on the wire).
    const m = (e as Error).message;
    req.resume();
    return fail('malformed-request', 400, `mdmtap: malformed request (${m})\n`, `from ${conn.id} for ${target.authority}: ${m}`);
  }

  // Nagle off towards the server too (see the listener): a request's last segment must not wait for an ACK.
  // Whether the request could have reached the server: a socket connected (and through TLS) before it failed.
  let connected = false;
  upReq.on('socket', (s) => {
    s.setNoDelay(true);
    if (upReq.reusedSocket) connected = true;
    else s.once(target.tls ? 'secureConnect' : 'connect', () => (connected = true));
  });
  upReq.on('timeout', () => {
    upReq.destroy(Object.assign(new Error(`no data to or from the server for ${ctx.upstreamTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
  });

  upReq.on('response', (upRes) => {
    status = upRes.statusCode ?? 0;
    responseHeaders = flatten(upRes.headers);
    const back: string[] = [];
    for (let i = 0; i < upRes.rawHeaders.length; i += 2) {
      if (!HOP.has(upRes.rawHeaders[i].toLowerCase())) back.push(upRes.rawHeaders[i], upRes.rawHeaders[i + 1]);
    }
    if (res.destroyed) return upRes.resume();
    try {
      res.writeHead(status, upRes.statusMessage, back as unknown as http.OutgoingHttpHeaders);
    } catch (e) {
      // The server's status line or headers parse, but cannot be written to a device as they are.
      status = 0;
      responseHeaders = {};
      upReq.destroy();
      const m = (e as Error).message;
      return fail('bad-upstream-response', 502, `mdmtap: the MDM server ${target.authority} sent a response that cannot be relayed (${m})\n`, `${target.authority}: ${m}`);
    }
    relay(upRes, res, resTap, lengthOf(upRes.headers));
    upRes.on('aborted', () => {
      // The server dropped the connection mid-body: do the same to the device rather than pretend it ended.
      error = { kind: 'connection-reset', message: 'the server closed the connection before the response ended' };
      res.destroy();
      finish();
    });
    upRes.on('error', (e: NodeJS.ErrnoException) => {
      if (!upRes.complete) {
        const kind = e.code === 'ETIMEDOUT' ? 'timeout' : 'connection-reset';
        error = { kind, message: kind === 'timeout' ? e.message : 'the server closed the connection before the response ended' };
        res.destroy();
        finish();
      }
    });
  });

  upReq.on('error', (e: NodeJS.ErrnoException) => {
    let kind: UpstreamErrorKind = upstreamErrorKind(e);
    // `upstream-unreachable` and `tls` say the request never reached the server (the analysis relies on it): once a
    // connection was up, a failure may have come after the server read the request.
    if (connected && (kind === 'upstream-unreachable' || kind === 'tls')) kind = 'connection-reset';
    fail(kind, kind === 'timeout' ? 504 : 502, upstreamFailureText(kind, target.authority, e), `${target.authority}: ${e.message}`);
  });

  relay(req, upReq, reqTap, lengthOf(req.headers));
  res.on('finish', () => finish());
  res.on('close', () => {
    if (done) return;
    // The device went away (or was cut off by a timeout) before its response was complete.
    if (!res.writableFinished) {
      const cut = ctx.cutOff.get(req.socket);
      error ??=
        cut === 'timeout'
          ? { kind: 'timeout', message: 'the device did not send its request in time' }
          : cut === 'malformed-request'
            ? { kind: 'malformed-request', message: 'the rest of the device’s request could not be parsed (it was answered 400)' }
            : { kind: 'client-aborted', message: 'the device closed the connection before the exchange completed' };
      upReq.destroy();
    }
    finish();
  });
}

/**
 * How much of a body may wait in mdmtap's write buffer before the sending side is paused. `pipe()` pauses at the
 * stream default (16 KB) and resumes one event-loop turn later: a 500 KB body then needs ~30 turns of a loop that
 * is busy with every other device, which measured 150+ ms per large exchange under load (2 ms unloaded). The
 * kernel takes the data at once on a healthy connection, so a larger allowance costs memory only for a peer that
 * really is slow, and is bounded per exchange.
 */
const RELAY_HIGH_WATER = 1024 * 1024;

/**
 * Streams `from` into `to` byte for byte, copying into the tap beside it. Two writes per message are saved, both
 * measured as system calls under load: the first chunk goes out corked until the end of the tick (Node's HTTP
 * messages write their head and the first piece of body separately), and a body of known `length` ends with its
 * last chunk (`end()` after the last write sends one more, empty, write through TLS while the socket is busy).
 */
function relay(from: Readable, to: Writable, tap: BodyTap, length = Infinity): void {
  let first = true;
  let seen = 0;
  from.on('data', (c: Buffer) => {
    tap.write(c);
    if (to.destroyed || to.writableEnded) return;
    if (first) {
      first = false;
      to.cork();
      process.nextTick(uncork, to);
    }
    seen += c.length;
    if (seen >= length) return void to.end(c);
    if (!to.write(c) && to.writableLength > RELAY_HIGH_WATER) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => {
    if (!to.destroyed && !to.writableEnded) to.end();
  });
}

/** A body's length from its Content-Length, when that is all that frames it. */
function lengthOf(h: http.IncomingHttpHeaders): number | undefined {
  const v = h['content-length'];
  return v !== undefined && h['transfer-encoding'] === undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

function uncork(to: Writable): void {
  if (!to.destroyed) to.uncork();
}

function clientCertDer(socket: TLSSocket): Buffer | undefined {
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate(false);
  return cert && cert.raw && cert.raw.length ? cert.raw : undefined;
}

export function flatten(h: http.IncomingHttpHeaders): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(k === 'cookie' ? '; ' : ', ') : v;
  }
  return out;
}
