/**
 * Real network peers for proxy tests, on 127.0.0.1 only: an HTTPS "MDM server" that records what reached it, and
 * a device-side client that talks through mdmtap by CONNECT (forward mode) or directly (reverse mode).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, type CertificateAuthority } from '../../src/proxy/ca.js';

let upstreams = 0;

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface Upstream {
  port: number;
  ca: CertificateAuthority;
  seen: Seen[];
  close(): Promise<void>;
}

export function tempDir(prefix = 'mdmtap-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An HTTPS server with a certificate from its own throwaway CA. `reply` decides each response. */
export async function startUpstream(
  reply: (s: Seen, res: http.ServerResponse) => void,
  opts: { requestCert?: boolean } = {},
): Promise<Upstream> {
  const ca = await createCa({ commonName: `mdmtap test upstream ${++upstreams}` });
  const { cert, key } = await ca.issue('127.0.0.1');
  const seen: Seen[] = [];
  const server = https.createServer({ cert, key, requestCert: opts.requestCert, rejectUnauthorized: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) };
      seen.push(s);
      reply(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    ca,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Opens a CONNECT tunnel through the proxy and TLS inside it, as a device configured with an HTTP proxy does. */
export async function connectTls(proxyPort: number, target: string, ca: string, extra: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const raw = await new Promise<net.Socket>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: 'CONNECT', path: target, headers: { host: target } });
    req.on('connect', (res, socket) => (res.statusCode === 200 ? resolve(socket) : reject(new Error(`CONNECT ${res.statusCode}`))));
    req.on('error', reject);
    req.end();
  });
  const [host] = target.split(':');
  return await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: raw, ca, host, servername: net.isIP(host) ? undefined : host, ...extra }, () => resolve(s));
    s.on('error', reject);
  });
}

/** One request over an already-open socket (keep-alive: several requests may share it). */
const agentOf = new WeakMap<object, http.Agent>();

export function requestOver(
  socket: tls.TLSSocket | net.Socket,
  opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | Buffer[]; host?: string },
): Promise<Response> {
  // One agent per socket, handed that socket instead of dialling. Two agents sharing a socket fail on Node 22 and
  // later: the first still holds it as a free keep-alive socket, and destroys it when the next answer arrives.
  let agent = agentOf.get(socket);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true });
    (agent as unknown as { createConnection: () => net.Socket }).createConnection = () => socket as net.Socket;
    agentOf.set(socket, agent);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { method: opts.method ?? 'PUT', path: opts.path ?? '/mdm', headers: { host: opts.host ?? 'mdm.test', ...opts.headers }, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const parts = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    for (const p of parts) req.write(p);
    req.end();
  });
}

export async function plainGet(port: number, path: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

/** A plain TCP connection to the proxy, as a device (or an attacker) opens one. */
export function rawConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with everything the peer sent once it closes the connection (a test fails by timing out otherwise). */
export function closedBy(s: net.Socket | tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => resolve(out));
  });
}

/** Sends raw bytes on a fresh connection and collects what comes back until the proxy closes it. */
export async function rawExchange(port: number, bytes: string): Promise<string> {
  const s = await rawConnect(port);
  const reply = closedBy(s);
  s.write(bytes);
  return reply;
}

/** Resolves when `pred` holds over the collected items, checking each time one arrives (no sleeping). */
export function waitFor<T>(items: T[], pred: (items: T[]) => boolean, label = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const tick = () => {
      if (pred(items)) return resolve();
      if (++n > 2000) return reject(new Error(`timed out waiting for ${label}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}
