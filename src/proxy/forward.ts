/**
 * The forwarding core, shared by forward and reverse mode: one device request streamed to the MDM server and the
 * response streamed back, both byte-exact, while a capped copy of each body is taken for analysis. The Exchange
 * is handed over only once the response has been fully sent (or the exchange failed), and off the request's
 * path, so nothing mdmtap does with it can delay or break the device's connection.
 */
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Readable, Writable } from 'node:stream';
import type { Exchange, ExchangeError, Headers } from '../capture/exchange.js';
import { BodyTap } from './body-tap.js';
import { upstreamErrorKind } from './upstream.js';
import { SCAN_REPLY, SCAN_REQUEST } from '../mdm/classify.js';

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
  servername?: string;
}

export interface ForwardContext {
  agents: { http: http.Agent; https: https.Agent };
  maxBody: number;
  clientCertHeader?: string;
  onExchange(ex: Exchange): void;
  onError(e: { kind: string; message: string }): void;
  nextId(): string;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'upgrade']);

export function forward(req: http.IncomingMessage, res: http.ServerResponse, target: Target, ctx: ForwardContext, connectionId: string): void {
  const startedAt = Date.now();
  const id = ctx.nextId();
  const reqTap = new BodyTap(ctx.maxBody, SCAN_REQUEST);
  const resTap = new BodyTap(ctx.maxBody, SCAN_REPLY);
  const path = (target.basePath ? target.basePath.replace(/\/$/, '') : '') + (req.url ?? '/');
  const certHeader = ctx.clientCertHeader?.toLowerCase();

  // Raw header pairs keep the device's order and spelling; only hop-by-hop and the client-cert header go.
  const outHeaders: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP.has(name) || name === certHeader) continue;
    if (name === 'host' && target.hostHeader) {
      outHeaders.push(raw[i], target.hostHeader);
      continue;
    }
    outHeaders.push(raw[i], raw[i + 1]);
  }
  if (certHeader) {
    // Set only from the TLS handshake mdmtap itself did: an incoming header of that name was dropped above.
    const der = clientCertDer(req.socket as TLSSocket);
    if (der) outHeaders.push(ctx.clientCertHeader!, `:${der.toString('base64')}:`);
  }

  let status = 0;
  let responseHeaders: Headers = {};
  let error: ExchangeError | undefined;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    const ex: Exchange = {
      id,
      connectionId,
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
      }
    });
  };

  const upReq = (target.tls ? https : http).request({
    host: target.host,
    port: target.port,
    method: req.method,
    path,
    headers: outHeaders as unknown as http.OutgoingHttpHeaders,
    agent: target.tls ? ctx.agents.https : ctx.agents.http,
    ...(target.tls ? { servername: target.servername ?? (isIpLiteral(target.host) ? undefined : target.host) } : {}),
  });

  // Nagle off towards the server too (see the listener): a request's last segment must not wait for an ACK.
  upReq.on('socket', (s) => s.setNoDelay(true));

  upReq.on('response', (upRes) => {
    status = upRes.statusCode ?? 0;
    responseHeaders = flatten(upRes.headers);
    const back: string[] = [];
    for (let i = 0; i < upRes.rawHeaders.length; i += 2) {
      if (!HOP.has(upRes.rawHeaders[i].toLowerCase())) back.push(upRes.rawHeaders[i], upRes.rawHeaders[i + 1]);
    }
    res.writeHead(status, upRes.statusMessage, back as unknown as http.OutgoingHttpHeaders);
    relay(upRes, res, resTap);
    upRes.on('aborted', () => {
      // The server dropped the connection mid-body: do the same to the device rather than pretend it ended.
      error = { kind: 'connection-reset', message: 'the server closed the connection before the response ended' };
      res.destroy();
      finish();
    });
    upRes.on('error', () => {
      if (!upRes.complete) {
        error = { kind: 'connection-reset', message: 'the server closed the connection before the response ended' };
        res.destroy();
        finish();
      }
    });
  });

  upReq.on('error', (e: NodeJS.ErrnoException) => {
    if (done) return;
    const kind = upstreamErrorKind(e);
    error = { kind, message: `${target.authority}: ${e.message}` };
    ctx.onError({ kind, message: error.message });
    if (!res.headersSent && !res.destroyed) {
      const text = `mdmtap: the MDM server ${target.authority} could not be reached (${e.code ?? e.message})\n`;
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    } else {
      res.destroy();
    }
    finish();
  });

  relay(req, upReq, reqTap);
  res.on('finish', finish);
  res.on('close', () => {
    if (done) return;
    // The device went away before its response was complete.
    if (!res.writableFinished) {
      error ??= { kind: 'client-aborted', message: 'the device closed the connection before the exchange completed' };
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

/** Streams `from` into `to` byte for byte, copying into the tap beside it. */
function relay(from: Readable, to: Writable, tap: BodyTap): void {
  from.on('data', (c: Buffer) => {
    tap.write(c);
    if (to.destroyed) return;
    if (!to.write(c) && to.writableLength > RELAY_HIGH_WATER) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => {
    if (!to.destroyed) to.end();
  });
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

function isIpLiteral(h: string): boolean {
  return /^[\d.]+$/.test(h) || h.includes(':');
}
