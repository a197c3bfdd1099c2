/**
 * The trust boundary over real sockets: reverse mode is not a proxy, the client-certificate header cannot be
 * forged in any spelling, clients from public addresses are refused, malformed requests get a 400 of their own
 * kind (and never stop the process), a server that answers garbage is told apart from one that cannot be reached,
 * and plain HTTP to hosts mdmtap does not decrypt passes untouched in forward mode.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import type { Exchange } from '../../src/model/exchange.js';
import type { ProxyError } from '../../src/proxy/errors.js';
import { createCa } from '../../src/proxy/ca.js';
import { ClientFilter, parseCidr } from '../../src/proxy/client-filter.js';
import { foldHeaderName } from '../../src/proxy/cert-header.js';
import { closedBy, connectTls, plainGet, rawExchange, requestOver, startUpstream, tempDir, waitFor, type Upstream } from '../helpers/tls-peers.js';

function tlsTo(port: number, ca: string, servername?: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : {}) }, () => resolve(c));
    c.on('error', reject);
  });
}

const CERT_HEADER = 'X-Client-Cert';
const SPELLINGS = ['X-Client-Cert', 'x-client-cert', 'X_Client_Cert', 'X_CLIENT_CERT', 'x.client.cert', 'X-Client_Cert'];

describe('reverse mode is not a proxy', () => {
  let upstream: Upstream;
  let proxy: RunningProxy;
  const certs = tempDir();
  const errors: ProxyError[] = [];
  const exchanges: Exchange[] = [];
  let other: net.Server;
  let otherHits = 0;

  beforeAll(async () => {
    upstream = await startUpstream((_s, res) => res.end('from the mdm server'));
    // An internal service a client would like to reach through mdmtap.
    other = net.createServer((s) => {
      otherHits++;
      s.end('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecret');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [], upstream: `https://127.0.0.1:${upstream.port}/`, upstreamCa: [upstream.ca.certPem],
      clientCertHeader: CERT_HEADER, certsDir: certs.dir, maxBody: 1 << 20,
      onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e),
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    other.close();
    certs.remove();
  });
  afterEach(() => {
    errors.length = 0;
    exchanges.length = 0;
  });

  it('refuses CONNECT to any host with 403 and a proxy-refused event; nothing is reached', async () => {
    const otherPort = (other.address() as net.AddressInfo).port;
    for (const target of [`127.0.0.1:${otherPort}`, `127.0.0.1:${upstream.port}`, 'api.push.apple.com:443']) {
      const reply = await rawExchange(proxy.port, `CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
      expect(reply).toMatch(/^HTTP\/1\.1 403 /);
      expect(reply).toContain('not a proxy');
    }
    expect(otherHits).toBe(0);
    expect(upstream.seen).toHaveLength(0);
    expect(errors.map((e) => e.kind)).toEqual(['proxy-refused', 'proxy-refused', 'proxy-refused']);
  });

  it('a refused CONNECT whose client never closes its side does not keep its place under --max-connections', async () => {
    const p = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [], upstream: `https://127.0.0.1:${upstream.port}/`, upstreamCa: [upstream.ca.certPem],
      certsDir: certs.dir, maxBody: 1 << 20, maxConnections: 2, onExchange: () => undefined, onError: () => undefined,
    });
    try {
      // Two clients read their 403 and then hold their half of the connection open, as a hostile one would.
      const held = await Promise.all(
        [0, 1].map(
          () =>
            new Promise<net.Socket>((resolve) => {
              const c = net.connect({ port: p.port, host: '127.0.0.1', allowHalfOpen: true });
              c.on('error', () => undefined);
              c.on('end', () => resolve(c));
              c.resume();
              c.write('CONNECT 127.0.0.1:1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\n\r\n');
            }),
        ),
      );
      // mdmtap closes them itself, and a device gets in again.
      let served = false;
      for (let i = 0; i < 100 && !served; i++) {
        served = /^HTTP\/1\.1 403 /.test(await rawExchange(p.port, 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\n\r\n').catch(() => ''));
        if (!served) await new Promise((r) => setTimeout(r, 100));
      }
      for (const c of held) c.destroy();
      expect(served).toBe(true);
    } finally {
      await p.close();
    }
  });

  it('refuses absolute-form requests, plain or inside TLS', async () => {
    const otherPort = (other.address() as net.AddressInfo).port;
    // With credentials in the URL: they are not quoted in any message.
    const plain = await rawExchange(proxy.port, `GET http://admin:HUNTER2@127.0.0.1:${otherPort}/ HTTP/1.1\r\nhost: 127.0.0.1:${otherPort}\r\n\r\n`);
    expect(plain).toMatch(/^HTTP\/1\.1 403 /);
    expect(plain).not.toContain('HUNTER2');
    const s = await tlsTo(proxy.port, proxy.ca.certPem);
    const r = await requestOver(s, { method: 'GET', path: `http://admin:HUNTER2@127.0.0.1:${otherPort}/` });
    s.destroy();
    expect(r.status).toBe(400);
    expect(otherHits).toBe(0);
    expect(upstream.seen).toHaveLength(0);
    expect(errors.map((e) => e.kind)).toEqual(['proxy-refused', 'malformed-request']);
    expect(JSON.stringify(errors)).not.toContain('HUNTER2');
    expect(errors[0].message).toContain('http://…@127.0.0.1');
  });

  it('strips the client-certificate header in every spelling a server stack folds to the same name', async () => {
    const s = await tlsTo(proxy.port, proxy.ca.certPem);
    const headers: http.OutgoingHttpHeaders = {};
    SPELLINGS.forEach((name, i) => (headers[name] = `:forged-${i}:`));
    const r = await requestOver(s, { body: Buffer.from('x'), headers });
    s.destroy();
    expect(r.status).toBe(200);
    const raw = upstream.seen.at(-1)!.rawHeaders;
    const names = raw.filter((_, i) => i % 2 === 0).map(foldHeaderName);
    expect(names).not.toContain(foldHeaderName(CERT_HEADER));
    expect(raw.join('\n')).not.toContain('forged');
    // Neighbours that only look alike pass untouched.
    const s2 = await tlsTo(proxy.port, proxy.ca.certPem);
    await requestOver(s2, { body: Buffer.from('x'), headers: { 'X-Client-Certs': 'kept', XClientCert: 'kept too' } });
    s2.destroy();
    expect(upstream.seen.at(-1)!.headers['x-client-certs']).toBe('kept');
    expect(upstream.seen.at(-1)!.headers['xclientcert']).toBe('kept too');
  });

  it('issues no certificate for a name it does not decrypt', async () => {
    const before = proxy.leavesIssued();
    await expect(tlsTo(proxy.port, proxy.ca.certPem, 'intranet.example.com')).rejects.toThrow(/altnames|certificate/i);
    expect(proxy.leavesIssued()).toBe(before);
    await waitFor(errors, (e) => e.some((x) => x.kind === 'tls'), 'the tls error');
    expect(errors.find((e) => e.kind === 'tls')!.message).toContain('--server-name intranet.example.com');
  });
});

describe('clients from public addresses', () => {
  it('classifies addresses like block_global: private, loopback, link-local, CGNAT and mapped ones pass; public ones need --allow-client', () => {
    const f = new ClientFilter();
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.9', '192.168.1.20', '169.254.3.4', '100.64.0.1', '::1', 'fd00::1', 'fe80::1', 'fe80::1%eth0', '::ffff:192.168.1.5', '::ffff:127.0.0.1']) {
      expect(f.admits(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2001:4860::8888', '::ffff:8.8.8.8', '::ffff:808:808', undefined]) {
      expect(f.admits(a), String(a)).toBe(false);
    }
    const allowing = new ClientFilter(['203.0.113.0/24', '2001:db8::/32'].map(parseCidr));
    expect(allowing.admits('203.0.113.77')).toBe(true);
    expect(allowing.admits('::ffff:203.0.113.77')).toBe(true);
    expect(allowing.admits('2001:db8::5')).toBe(true);
    expect(allowing.admits('203.0.114.1')).toBe(false);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/0-32/);
    expect(() => parseCidr('example.com')).toThrow(/CIDR/);
  });

  it('drops a refused client before it reads a byte, reports the address once, and serves it once allowed', async () => {
    const certs = tempDir();
    const errors: ProxyError[] = [];
    // Loopback is the only address a test can connect from; here it is treated as public.
    const narrow = (allow: string[]) => new ClientFilter(allow.map(parseCidr), []);
    const refusing = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: ['127.0.0.1:1'], certsDir: certs.dir, maxBody: 1, clientFilter: narrow([]), onExchange() {}, onError: (e) => errors.push(e) });
    const allowing = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: ['127.0.0.1:1'], certsDir: certs.dir, maxBody: 1, clientFilter: narrow(['127.0.0.0/8']), onExchange() {}, onError: (e) => errors.push(e) });
    try {
      expect(await rawExchange(refusing.port, 'GET /ca.pem HTTP/1.1\r\nhost: x\r\n\r\n')).toBe('');
      expect(await rawExchange(refusing.port, 'GET /ca.pem HTTP/1.1\r\nhost: x\r\n\r\n')).toBe('');
      expect(errors.map((e) => e.kind)).toEqual(['client-refused']);
      expect(errors[0].message).toContain('--allow-client 127.0.0.1');
      expect((await plainGet(allowing.port, '/ca.pem')).status).toBe(200);
    } finally {
      await refusing.close();
      await allowing.close();
      certs.remove();
    }
  });
});

describe('malformed input and bad servers (forward mode)', () => {
  let upstream: Upstream;
  let proxy: RunningProxy;
  let plainServer: http.Server;
  let plainSeen: http.IncomingHttpHeaders[] = [];
  const certs = tempDir();
  const errors: ProxyError[] = [];
  const exchanges: Exchange[] = [];
  let target: string;

  beforeAll(async () => {
    upstream = await startUpstream((_s, res) => res.end('ok'));
    target = `127.0.0.1:${upstream.port}`;
    plainServer = http.createServer((req, res) => {
      plainSeen.push(req.headers);
      res.writeHead(204, { 'x-from': 'captive-portal-check' });
      res.end();
    });
    await new Promise<void>((r) => plainServer.listen(0, '127.0.0.1', r));
    proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [target], upstreamCa: [upstream.ca.certPem], clientCertHeader: CERT_HEADER, certsDir: certs.dir, maxBody: 1 << 20,
      onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e),
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    plainServer.close();
    certs.remove();
  });
  afterEach(() => {
    errors.length = 0;
    exchanges.length = 0;
    plainSeen = [];
  });

  it('answers an absolute-form URL that does not parse with 400 (malformed-request) and keeps serving', async () => {
    const reply = await rawExchange(proxy.port, 'GET http://[/x HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    const garbage = await rawExchange(proxy.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    const badConnect = await rawExchange(proxy.port, 'CONNECT [::1 HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(badConnect).toMatch(/^HTTP\/1\.1 400 /);
    expect(errors.map((e) => e.kind)).toEqual(['malformed-request', 'malformed-request', 'malformed-request']);
    expect((await plainGet(proxy.port, '/ca.pem')).status).toBe(200);
  });

  it('a malformed request inside a decrypted connection is malformed-request, not a TLS failure', async () => {
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    const closed = closedBy(s);
    s.write('PUT /mdm HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 400 /);
    await waitFor(errors, (e) => e.length > 0, 'the error');
    expect(errors.map((e) => e.kind)).toEqual(['malformed-request']);
  });

  it('a body that stops parsing once forwarding has begun: 400 to the device, the exchange recorded as malformed-request', async () => {
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    const closed = closedBy(s);
    // Headers and a first chunk are fine (and on their way to the server); the next chunk size is not hex.
    s.write('PUT /mdm HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    await new Promise((r) => setTimeout(r, 50));
    s.write('zz\r\nnot a chunk\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 400 /);
    await waitFor(exchanges, (e) => e.length > 0, 'the exchange');
    expect(exchanges[0].error?.kind).toBe('malformed-request');
    expect(errors.map((e) => e.kind)).toEqual(['malformed-request']);
  });

  it('passes plain HTTP for hosts it does not decrypt on untouched, unrecorded, without a forged certificate header', async () => {
    const port = (plainServer.address() as net.AddressInfo).port;
    const reply = await rawExchange(
      proxy.port,
      `GET http://127.0.0.1:${port}/hotspot-detect.html HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nX_Client_Cert: :forged:\r\nconnection: close\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 204 /);
    expect(reply).toContain('x-from: captive-portal-check');
    expect(plainSeen).toHaveLength(1);
    expect(JSON.stringify(plainSeen[0])).not.toContain('forged');
    await new Promise((r) => setTimeout(r, 50));
    expect(exchanges).toHaveLength(0);
  });

  it('tells a server answering garbage (bad-upstream-response) from one that cannot be reached', async () => {
    const ca = await createCa({ commonName: 'garbage server' });
    const leaf = await ca.issue('127.0.0.1');
    const garbage = tls.createServer({ cert: leaf.cert, key: leaf.key }, (s) => {
      s.on('data', () => s.end('SMTP READY\r\n\r\n'));
      s.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const gTarget = `127.0.0.1:${(garbage.address() as net.AddressInfo).port}`;
    const p2 = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [gTarget], upstreamCa: [ca.certPem], certsDir: certs.dir, maxBody: 1024,
      onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e),
    });
    try {
      const s = await connectTls(p2.port, gTarget, p2.ca.certPem);
      const r = await requestOver(s, { body: Buffer.from('x') });
      s.destroy();
      expect(r.status).toBe(502);
      expect(r.body.toString()).toContain('not valid HTTP');
      await waitFor(exchanges, (x) => x.length === 1, 'the exchange');
      expect(exchanges[0].error?.kind).toBe('bad-upstream-response');
      expect(errors.map((e) => e.kind)).toEqual(['bad-upstream-response']);
    } finally {
      await p2.close();
      garbage.close();
    }
  });
});
