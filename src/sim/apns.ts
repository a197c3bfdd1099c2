/**
 * A simulated APNs: HTTP/2 over TLS on 127.0.0.1 that demands a client certificate issued by the push CA, like
 * Apple's does. `POST /3/device/<hex>` with a registered token answers 200 and wakes that device; an unknown token
 * gets 410 Unregistered, a malformed one 400 BadDeviceToken. Delivery to the device is in-process: that leg is not
 * traffic mdmtap could see anyway.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import { randomUUID } from 'node:crypto';
import { simIdentity } from './identity.js';
import { closeNow } from './close-now.js';

export interface SimApns {
  url: string;
  port: number;
  /** PEM of the CA the APNs server certificate chains to (what the MDM server, or mdmtap, must trust). */
  ca: string;
  /** The push certificate and key an MDM server presents (issued by the CA APNs requires). */
  pushCert: { cert: string; key: string };
  register(tokenHex: string, wake: (pushMagic: string | undefined) => void): void;
  delivered: Array<{ tokenHex: string; status: number; topic?: string }>;
  close(): Promise<void>;
}

export async function startSimApns(): Promise<SimApns> {
  const server = await simIdentity('apns');
  const push = await simIdentity('push-cert');
  const pushLeaf = await push.ca.issue('com.apple.mgmt.External.mdmtap-sim', { clientAuth: true });
  const devices = new Map<string, (pushMagic: string | undefined) => void>();
  const delivered: SimApns['delivered'] = [];
  const h2 = http2.createSecureServer({
    ...server.server,
    ca: push.ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
    allowHTTP1: false,
  });
  const close = closeNow(h2);
  h2.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const path = String(headers[':path'] ?? '');
      const m = /^\/3\/device\/([^/?]+)$/.exec(path);
      const reply = (status: number, body?: object) => {
        const h: http2.OutgoingHttpHeaders = { ':status': status, 'apns-id': String(headers['apns-id'] ?? randomUUID()).toUpperCase() };
        if (body) h['content-type'] = 'application/json';
        stream.respond(h);
        stream.end(body ? JSON.stringify(body) : undefined);
      };
      if (headers[':method'] !== 'POST' || !m) return reply(405, { reason: 'MethodNotAllowed' });
      const token = m[1];
      if (!/^[0-9a-f]{64}$/i.test(token)) {
        delivered.push({ tokenHex: token, status: 400 });
        return reply(400, { reason: 'BadDeviceToken' });
      }
      const wake = devices.get(token.toLowerCase());
      if (!wake) {
        delivered.push({ tokenHex: token, status: 410 });
        return reply(410, { reason: 'Unregistered', timestamp: Date.now() });
      }
      let magic: string | undefined;
      try {
        magic = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { mdm?: string }).mdm;
      } catch {
        return reply(400, { reason: 'PayloadEmpty' });
      }
      delivered.push({ tokenHex: token, status: 200, ...(headers['apns-topic'] ? { topic: String(headers['apns-topic']) } : {}) });
      reply(200);
      setImmediate(() => wake(magic));
    });
    stream.on('error', () => stream.destroy());
  });
  h2.on('tlsClientError', () => {
    // A client without the push certificate is refused at the handshake, as Apple does; nothing to report.
  });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const port = (h2.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    ca: server.ca.certPem,
    pushCert: { cert: pushLeaf.cert, key: pushLeaf.key },
    register: (tokenHex, wake) => devices.set(tokenHex.toLowerCase(), wake),
    delivered,
    close,
  };
}
