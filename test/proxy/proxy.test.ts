import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import * as plist from 'plist';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import type { Exchange } from '../../src/model/exchange.js';
import { createCa } from '../../src/proxy/ca.js';
import { connectTls, plainGet, rawExchange, requestOver, startUpstream, tempDir, waitFor, type Upstream } from '../helpers/tls-peers.js';

const SIGNATURE = 'MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIC';

function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('forward mode (devices use mdmtap as their HTTP proxy)', () => {
  let upstream: Upstream;
  let proxy: RunningProxy;
  const exchanges: Exchange[] = [];
  const errors: Array<{ kind: string; message: string }> = [];
  const certs = tempDir();
  let target: string;

  beforeAll(async () => {
    // The server answers with a body derived from the request: same size, every byte inverted.
    upstream = await startUpstream((s, res) => {
      const out = Buffer.from(s.body.map((b) => 255 - b));
      res.writeHead(200, { 'content-type': 'application/x-apple-aspen-mdm', 'x-echo-signature': String(s.headers['mdm-signature']) });
      res.end(out);
    });
    target = `127.0.0.1:${upstream.port}`;
    proxy = await startProxy({
      host: '127.0.0.1',
      port: 0,
      mdmHosts: [target],
      upstreamCa: [upstream.ca.certPem],
      certsDir: certs.dir,
      maxBody: 1024 * 1024,
      clientCertHeader: 'X-Client-Cert',
      onExchange: (ex) => exchanges.push(ex),
      onError: (e) => errors.push(e),
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    certs.remove();
  });
  afterEach(() => {
    exchanges.length = 0;
    errors.length = 0;
  });

  for (const size of [0, 1, 400, 5 * 1024 * 1024]) {
    it(`forwards a ${size}-byte body both ways byte-identical, Mdm-Signature intact`, async () => {
      const body = bytes(size, size + 7);
      const s = await connectTls(proxy.port, target, proxy.ca.certPem);
      const r = await requestOver(s, { body, headers: { 'Mdm-Signature': SIGNATURE, 'content-type': 'application/x-apple-aspen-mdm' } });
      s.destroy();
      expect(r.status).toBe(200);
      const seen = upstream.seen.at(-1)!;
      expect(seen.body.equals(body)).toBe(true);
      expect(seen.headers['mdm-signature']).toBe(SIGNATURE);
      expect(r.body.equals(Buffer.from(body.map((b) => 255 - b)))).toBe(true);
      await waitFor(exchanges, (x) => x.length === 1, 'the exchange');
      const ex = exchanges[0];
      expect(ex.requestSize).toBe(size);
      expect(ex.responseSize).toBe(size);
      // Past --max-body (1 MiB here) the copy is cut and flagged; forwarding stayed exact above.
      expect(ex.requestTruncated).toBe(size > 1024 * 1024);
      expect(Buffer.from(ex.requestBody).equals(body.subarray(0, Math.min(size, 1024 * 1024)))).toBe(true);
      expect(ex.requestHeaders['mdm-signature']).toBe(SIGNATURE);
      expect(ex.host).toBe(target);
      expect(ex.status).toBe(200);
    });
  }

  it('streams chunked bodies and serves several requests on one kept-alive connection', async () => {
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    const parts = [bytes(1000, 1), bytes(70_000, 2), bytes(3, 3)];
    const r1 = await requestOver(s, { body: parts, headers: { 'transfer-encoding': 'chunked' } });
    const r2 = await requestOver(s, { body: bytes(10, 4) });
    s.destroy();
    expect(r1.status).toBe(200);
    expect(upstream.seen.at(-2)!.body.equals(Buffer.concat(parts))).toBe(true);
    expect(r2.body).toHaveLength(10);
    await waitFor(exchanges, (x) => x.length === 2, 'two exchanges');
    expect(exchanges[0].connectionId).toBe(exchanges[1].connectionId);
  });

  it('keeps framing on a kept-alive connection: a HEAD answer with a Content-Length and no body, then a body sent in pieces', async () => {
    const server = await startUpstream((seen, res) => {
      if (seen.method === 'HEAD') {
        res.writeHead(200, { 'content-length': 5 });
        return res.end();
      }
      res.writeHead(200, { 'content-length': 3 });
      res.write('a');
      setTimeout(() => res.write('b'), 20);
      setTimeout(() => res.end('c'), 40);
    });
    const up = `127.0.0.1:${server.port}`;
    const p = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: [up], upstreamCa: [server.ca.certPem], certsDir: certs.dir, maxBody: 1024, onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e) });
    try {
      const s = await connectTls(p.port, up, p.ca.certPem);
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.write('HEAD /mdm HTTP/1.1\r\nhost: mdm.test\r\n\r\n');
      await waitFor([], () => /\r\n\r\n/.test(text), 'the HEAD answer');
      s.write('PUT /mdm HTTP/1.1\r\nhost: mdm.test\r\ncontent-length: 2\r\n\r\nhi');
      await waitFor([], () => text.endsWith('\r\n\r\nabc'), 'the PUT answer');
      s.destroy();
      const answers = text.split(/(?=HTTP\/1\.1 )/);
      expect(answers).toHaveLength(2);
      expect(answers[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 5\r\n[\s\S]*\r\n\r\n$/i);
      expect(answers[1]).toMatch(/content-length: 3\r\n[\s\S]*\r\n\r\nabc$/i);
      expect(server.seen.map((x) => [x.method, x.body.toString()])).toEqual([['HEAD', ''], ['PUT', 'hi']]);
      await waitFor(exchanges, (x) => x.length === 2, 'two exchanges');
      expect(exchanges.map((x) => [x.method, x.responseSize, Buffer.from(x.responseBody).toString()])).toEqual([['HEAD', 0, ''], ['PUT', 3, 'abc']]);
    } finally {
      await p.close();
      await server.close();
    }
  });

  it('strips a spoofed client-certificate header and forwards the real certificate as :base64-DER:', async () => {
    const deviceCa = await createCa({ commonName: 'device identities' });
    const device = await deviceCa.issue('device-identity.example', { clientAuth: true });
    {
      const spoof = await connectTls(proxy.port, target, proxy.ca.certPem);
      await requestOver(spoof, { body: bytes(5), headers: { 'X-Client-Cert': ':ZmFrZQ==:' } });
      spoof.destroy();
      expect(upstream.seen.at(-1)!.headers['x-client-cert']).toBeUndefined();

      const real = await connectTls(proxy.port, target, proxy.ca.certPem, { cert: device.cert, key: device.key });
      await requestOver(real, { body: bytes(5), headers: { 'X-Client-Cert': ':ZmFrZQ==:' } });
      real.destroy();
      const h = upstream.seen.at(-1)!.headers['x-client-cert'] as string;
      const der = new X509Certificate(device.cert).raw;
      expect(h).toBe(`:${der.toString('base64')}:`);
    }
  });

  it('tunnels hosts that are not --mdm-host untouched: the client sees the real certificate', async () => {
    const other = await startUpstream((_s, res) => res.end('direct'));
    try {
      const s = await connectTls(proxy.port, `127.0.0.1:${other.port}`, other.ca.certPem);
      const peer = s.getPeerX509Certificate()!;
      expect(peer.checkIssued(new X509Certificate(other.ca.certPem))).toBe(true);
      const r = await requestOver(s, { method: 'GET', path: '/' });
      s.destroy();
      expect(r.body.toString()).toBe('direct');
      expect(exchanges).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('closes a tunnel silent both ways for --tunnel-timeout, and only then: traffic either way keeps it open', async () => {
    const far = net.createServer((c) => c.on('data', (d) => c.write(d)).on('error', () => undefined));
    await new Promise<void>((r) => far.listen(0, '127.0.0.1', r));
    const farPort = (far.address() as net.AddressInfo).port;
    const p = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: [target], certsDir: certs.dir, maxBody: 1024, timeouts: { tunnelMs: 1000 }, onExchange: () => undefined, onError: (e) => errors.push(e) });
    try {
      const s = net.connect(p.port, '127.0.0.1');
      s.on('error', () => undefined);
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      let closedAt = 0;
      s.on('close', () => (closedAt = Date.now()));
      s.write(`CONNECT 127.0.0.1:${farPort} HTTP/1.1\r\nhost: 127.0.0.1:${farPort}\r\n\r\n`);
      await waitFor([], () => text.includes('200 Connection Established'), 'the tunnel');
      // Two and a half timeouts of echoed traffic: each byte restarts the clock.
      for (let i = 0; i < 25; i++) {
        s.write('x');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(closedAt).toBe(0);
      expect(text.endsWith('x'.repeat(20))).toBe(true);
      const quietFrom = Date.now();
      await waitFor([], () => closedAt > 0, 'the idle tunnel closed');
      expect(closedAt - quietFrom).toBeGreaterThanOrEqual(900);
      // Closing an idle tunnel is housekeeping, not a fault.
      expect(errors).toEqual([]);
    } finally {
      await p.close();
      await new Promise((r) => far.close(r));
    }
  });

  it('takes pipelined requests one at a time, in order, and closes a connection that sends too many ahead', async () => {
    let active = 0;
    let most = 0;
    const slow = await startUpstream((seen, res) => {
      most = Math.max(most, ++active);
      setTimeout(() => {
        active--;
        res.end(`answer to ${seen.url}`);
      }, 5);
    });
    const up = `127.0.0.1:${slow.port}`;
    const p = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: [up], upstreamCa: [slow.ca.certPem], certsDir: certs.dir, maxBody: 1024, onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e) });
    try {
      const ask = (n: number) => Array.from({ length: n }, (_, i) => `GET /r${i} HTTP/1.1\r\nhost: mdm.test\r\n\r\n`).join('');
      const s = await connectTls(p.port, up, p.ca.certPem);
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.write(ask(10));
      await waitFor([], () => text.includes('answer to /r9'), 'ten answers');
      s.destroy();
      expect([...text.matchAll(/answer to \/r(\d+)/g)].map((m) => Number(m[1]))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(most).toBe(1);

      const flood = await connectTls(p.port, up, p.ca.certPem);
      const closed = new Promise((r) => flood.on('close', r));
      flood.on('error', () => undefined);
      flood.write(ask(200));
      await closed;
      await new Promise((r) => setTimeout(r, 100));
      expect(errors.some((e) => e.kind === 'malformed-request' && /more than 32 requests/.test(e.message))).toBe(true);
      // Nothing waiting behind a closed connection is sent on: at most the one in progress and the queue ran.
      expect(slow.seen.length).toBeLessThanOrEqual(10 + 1 + 32);
      expect(most).toBe(1);
    } finally {
      await p.close();
      await slow.close();
    }
  });

  it('refuses to tunnel or pass on to the MDM server under another name: no path around the recording and the certificate header', async () => {
    const port = upstream.port;
    const before = upstream.seen.length;
    for (const other of ['127.1', '2130706433', '[::ffff:127.0.0.1]']) {
      const reply = await rawExchange(proxy.port, `CONNECT ${other}:${port} HTTP/1.1\r\nhost: ${other}:${port}\r\n\r\n`);
      expect(reply, other).toMatch(/^HTTP\/1\.1 403 /);
      expect(reply).toContain(`MDM server ${target}`);
    }
    // (A URL's 127.1 is 127.0.0.1 already, which is decrypted and recorded; a name is not.)
    const plain = await rawExchange(proxy.port, `GET https://localhost:${port}/mdm HTTP/1.1\r\nhost: localhost:${port}\r\nX-Client-Cert: :Zm9yZ2Vk:\r\n\r\n`);
    expect(plain).toMatch(/^HTTP\/1\.1 403 /);
    expect(upstream.seen.length).toBe(before);
    expect(errors.filter((e) => e.kind === 'proxy-refused')).toHaveLength(4);
  });

  it('answers 502 and reports an error when the MDM server is down', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const p2 = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [`127.0.0.1:${port}`], certsDir: certs.dir, maxBody: 1024,
      onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e),
    });
    try {
      const s = await connectTls(p2.port, `127.0.0.1:${port}`, p2.ca.certPem);
      const r = await requestOver(s, { body: bytes(10) });
      s.destroy();
      expect(r.status).toBe(502);
      await waitFor(exchanges, (x) => x.length === 1, 'the failed exchange');
      expect(exchanges[0].error?.kind).toBe('upstream-unreachable');
      expect(errors.map((e) => e.kind)).toContain('upstream-unreachable');
    } finally {
      await p2.close();
    }
  });

  it('refuses an upstream it cannot verify (502 + tls error) unless its CA is given', async () => {
    const p2 = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [target], certsDir: certs.dir, maxBody: 1024,
      onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e),
    });
    try {
      const s = await connectTls(p2.port, target, p2.ca.certPem);
      const r = await requestOver(s, { body: bytes(10) });
      s.destroy();
      expect(r.status).toBe(502);
      await waitFor(errors, (x) => x.some((e) => e.kind === 'tls'), 'a tls error');
    } finally {
      await p2.close();
    }
  });

  it('survives a device aborting mid-body, and keeps serving', async () => {
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    s.write(`PUT /mdm HTTP/1.1\r\nhost: mdm.test\r\ncontent-length: 100000\r\n\r\n`);
    s.write(bytes(5000));
    await new Promise((r) => setImmediate(r));
    s.destroy();
    await waitFor(exchanges, (x) => x.length === 1, 'the aborted exchange');
    expect(exchanges[0].error?.kind).toBe('client-aborted');
    // Going away is no malformed request.
    expect(errors.filter((e) => e.kind === 'malformed-request')).toEqual([]);
    const s2 = await connectTls(proxy.port, target, proxy.ca.certPem);
    const r = await requestOver(s2, { body: bytes(3) });
    s2.destroy();
    expect(r.status).toBe(200);
  });

  it('survives failed TLS with devices: a device rejecting its certificate, and one speaking no TLS (tls error)', async () => {
    await expect(connectTls(proxy.port, target, upstream.ca.certPem)).rejects.toThrow();
    const raw = net.connect(proxy.port, '127.0.0.1');
    raw.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
    raw.once('data', () => raw.write('this is not a TLS ClientHello at all\r\n\r\n'));
    await waitFor(errors, (x) => x.some((e) => e.kind === 'tls'), 'a tls error');
    raw.destroy();
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    expect((await requestOver(s, { body: bytes(2) })).status).toBe(200);
    s.destroy();
  });

  it('serves the CA as PEM and as a configuration profile over plain HTTP', async () => {
    const pem = await plainGet(proxy.port, '/ca.pem');
    expect(pem.status).toBe(200);
    expect(pem.body.toString()).toBe(proxy.ca.certPem);
    const prof = await plainGet(proxy.port, '/ca.mobileconfig');
    expect(prof.headers['content-type']).toBe('application/x-apple-aspen-config');
    const p = plist.parse(prof.body.toString()) as any;
    expect(p.PayloadType).toBe('Configuration');
    expect(p.PayloadContent[0].PayloadType).toBe('com.apple.security.root');
    expect(Buffer.from(p.PayloadContent[0].PayloadContent).equals(proxy.ca.der)).toBe(true);
    const home = await plainGet(proxy.port, '/');
    expect(home.body.toString()).toContain(proxy.caFingerprint);
  });

  it('keeps the CA key private (0600), the CA valid 10 years and leaves within 825 days', async () => {
    expect(statSync(join(certs.dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(proxy.ca.certPem);
    expect(ca.ca).toBe(true);
    const years = (Date.parse(ca.validTo) - Date.now()) / (365 * 86_400_000);
    expect(years).toBeGreaterThan(9.9);
    const leaf = new X509Certificate((await proxy.ca.issue('mdm.example.com')).cert);
    expect((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 86_400_000).toBeLessThanOrEqual(825);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(proxy.caFingerprint).toBe(createHash('sha256').update(ca.raw).digest('hex').toUpperCase().match(/../g)!.join(':'));
  });

  it('says in one line when the port is taken', async () => {
    await expect(
      startProxy({ host: '127.0.0.1', port: proxy.port, mdmHosts: [], upstream: 'https://127.0.0.1:1', certsDir: certs.dir, maxBody: 1, onExchange() {}, onError() {} }),
    ).rejects.toThrow(`port ${proxy.port} is already in use on 127.0.0.1`);
  });
});

describe('reverse mode (devices talk to mdmtap, which forwards to --upstream)', () => {
  it('terminates TLS with a leaf from the mdmtap CA and forwards to the upstream base path', async () => {
    const upstream = await startUpstream((s, res) => res.end(Buffer.concat([Buffer.from('ok:'), s.body])));
    const certs = tempDir();
    const exchanges: Exchange[] = [];
    const proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [], upstream: `https://127.0.0.1:${upstream.port}/base`, upstreamCa: [upstream.ca.certPem],
      certsDir: certs.dir, maxBody: 1024, onExchange: (ex) => exchanges.push(ex), onError() {},
    });
    try {
      const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const c = tls.connect({ host: '127.0.0.1', port: proxy.port, ca: proxy.ca.certPem }, () => resolve(c));
        c.on('error', reject);
      });
      const r = await requestOver(s, { path: '/mdm/connect?x=1', body: Buffer.from('abc'), headers: { 'Mdm-Signature': SIGNATURE } });
      s.destroy();
      expect(r.body.toString()).toBe('ok:abc');
      expect(upstream.seen[0].url).toBe('/base/mdm/connect?x=1');
      expect(upstream.seen[0].headers['mdm-signature']).toBe(SIGNATURE);
      await waitFor(exchanges, (x) => x.length === 1, 'the exchange');
      expect(exchanges[0].path).toBe('/mdm/connect?x=1');
      // Plain HTTP on the same port still serves the CA.
      expect((await plainGet(proxy.port, '/ca.pem')).body.toString()).toBe(proxy.ca.certPem);
    } finally {
      await proxy.close();
      await upstream.close();
      certs.remove();
    }
  });
});
