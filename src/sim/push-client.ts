/**
 * How the reference server sends pushes: HTTP/2 to an APNs URL with the push certificate, optionally through an
 * HTTPS proxy by CONNECT — which is how a server behind `HTTPS_PROXY` lets mdmtap see its pushes.
 */
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

export interface PushTarget {
  url: string;
  /** CAs trusted for the APNs server (or for mdmtap, when it intercepts). */
  ca: string[];
  cert: string;
  key: string;
  proxy?: { host: string; port: number };
  topic?: string;
}

export interface PushResult {
  status: number;
  reason?: string;
}

export class PushClient {
  private session?: http2.ClientHttp2Session;

  constructor(private readonly target: PushTarget) {}

  async push(tokenHex: string, pushMagic: string): Promise<PushResult> {
    let session: http2.ClientHttp2Session;
    try {
      session = await this.connect();
    } catch (e) {
      return { status: 0, reason: (e as Error).message };
    }
    return await new Promise<PushResult>((resolve) => {
      const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': `/3/device/${tokenHex}`, 'content-type': 'application/json' };
      if (this.target.topic) headers['apns-topic'] = this.target.topic;
      // As many servers send them (NanoMDM sends none): deliver now, and do not store it if the device is offline.
      headers['apns-priority'] = '10';
      headers['apns-expiration'] = '0';
      const req = session.request(headers);
      let status = 0;
      const chunks: Buffer[] = [];
      req.on('response', (h) => (status = Number(h[':status'] ?? 0)));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let reason: string | undefined;
        if (status >= 400) {
          try {
            reason = (JSON.parse(Buffer.concat(chunks).toString()) as { reason?: string }).reason;
          } catch {
            reason = undefined;
          }
        }
        resolve({ status, ...(reason ? { reason } : {}) });
      });
      req.on('error', (e) => resolve({ status: 0, reason: e.message }));
      req.end(JSON.stringify({ mdm: pushMagic }));
    });
  }

  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }

  private async connect(): Promise<http2.ClientHttp2Session> {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const u = new URL(this.target.url);
    const port = Number(u.port || 443);
    const socket = await this.transport(u.hostname, port);
    const session = http2.connect(this.target.url, { createConnection: () => socket });
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    session.on('error', () => session.destroy());
    this.session = session;
    return session;
  }

  private async transport(host: string, port: number): Promise<tls.TLSSocket> {
    let raw: Duplex | undefined;
    if (this.target.proxy) {
      raw = await new Promise<Duplex>((resolve, reject) => {
        const req = http.request({ host: this.target.proxy!.host, port: this.target.proxy!.port, method: 'CONNECT', path: `${host}:${port}`, headers: { host: `${host}:${port}` } });
        req.on('connect', (res, socket) => (res.statusCode === 200 ? resolve(socket) : reject(new Error(`CONNECT ${res.statusCode}`))));
        req.on('error', reject);
        req.end();
      });
    }
    return await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        ...(raw ? { socket: raw } : { host, port }),
        host,
        servername: /^[\d.]+$/.test(host) ? undefined : host,
        ca: this.target.ca,
        cert: this.target.cert,
        key: this.target.key,
        ALPNProtocols: ['h2'],
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
  }
}
