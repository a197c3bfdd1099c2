/**
 * A local stand-in for Apple's APNs: HTTP/2 over TLS on 127.0.0.1, its certificate from a throwaway CA (what
 * mdmtap's `--apns-upstream-ca` trusts). It accepts a connection only with the given push certificate as the TLS
 * client certificate (any other gets 403 `BadCertificate`, as Apple refuses foreign certificates), answers every
 * `POST /3/device/<token>` with 200 and an `apns-id`, and records each request as it arrived.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import { randomUUID } from 'node:crypto';
import { makeCa } from './certificates.js';

export interface ApnsRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

export interface ApnsStandIn {
  url: string;
  /** PEM of the CA its server certificate chains to. */
  caPem: string;
  requests: ApnsRequest[];
  close(): Promise<void>;
}

export async function startApnsStandIn(pushCertDer: Buffer): Promise<ApnsStandIn> {
  const ca = makeCa(`mdmtap interop APNs stand-in ${randomUUID().slice(0, 8)}`);
  const leaf = ca.issueServer('127.0.0.1');
  const requests: ApnsRequest[] = [];
  const server = http2.createSecureServer({ cert: leaf.certPem + ca.certPem, key: leaf.keyPem, requestCert: true, rejectUnauthorized: false, allowHTTP1: false });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => s.destroy());
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => stream.destroy());
    stream.on('end', () => {
      const peer = (stream.session?.socket as tls.TLSSocket | undefined)?.getPeerCertificate?.(false);
      const method = String(headers[':method']);
      const path = String(headers[':path']);
      let status = 200;
      let body: object | undefined;
      if (!peer?.raw || !peer.raw.equals(pushCertDer)) [status, body] = [403, { reason: 'BadCertificate' }];
      else if (method !== 'POST' || !/^\/3\/device\/[0-9a-f]+$/.test(path)) [status, body] = [405, { reason: 'MethodNotAllowed' }];
      const plain: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') && v !== undefined) plain[k] = String(v);
      requests.push({ method, path, headers: plain, body: Buffer.concat(chunks).toString('utf8'), status });
      stream.respond({ ':status': status, 'apns-id': String(headers['apns-id'] ?? randomUUID()).toUpperCase(), ...(body ? { 'content-type': 'application/json' } : {}) });
      stream.end(body ? JSON.stringify(body) : undefined);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: ca.certPem,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
