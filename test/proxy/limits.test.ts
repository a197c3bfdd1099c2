/**
 * Bounded connections and memory, over real sockets: every timeout fires (handshake, headers, idle keep-alive,
 * request body, upstream), connections past --max-connections are closed on arrival (reported once), bodies past
 * the copy budget are forwarded but not copied (reported once per incident), and stalled uploads beyond the old
 * 256-socket agent cap do not hold up another device. No timing is asserted: each test waits for the close.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import type { Exchange } from '../../src/model/exchange.js';
import type { ProxyError } from '../../src/proxy/errors.js';
import { startSimApns } from '../../src/sim/apns.js';
import { closedBy, connectTls, rawConnect, requestOver, startUpstream, tempDir, waitFor, type Upstream } from '../helpers/tls-peers.js';

describe('timeouts that fire', () => {
  let upstream: Upstream;
  let proxy: RunningProxy;
  const certs = tempDir();
  const errors: ProxyError[] = [];
  const exchanges: Exchange[] = [];
  let target: string;
  let hold: Array<() => void> = [];

  beforeAll(async () => {
    upstream = await startUpstream((s, res) => {
      // `/slow` is never answered: the upstream timeout must give up on it.
      if (s.url === '/slow') return void hold.push(() => res.end());
      res.end('ok');
    });
    target = `127.0.0.1:${upstream.port}`;
    proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [target], upstreamCa: [upstream.ca.certPem], certsDir: certs.dir, maxBody: 1 << 20,
      timeouts: { handshakeMs: 300, headersMs: 300, requestMs: 500, idleMs: 300, upstreamMs: 1200 },
      onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e),
    });
  });
  afterAll(async () => {
    hold.forEach((h) => h());
    await proxy.close();
    await upstream.close();
    certs.remove();
  });
  afterEach(() => {
    errors.length = 0;
    exchanges.length = 0;
    hold = [];
  });

  it('closes a connection that never sends a request, and one that trickles its headers (408)', async () => {
    const silent = await rawConnect(proxy.port);
    expect(await closedBy(silent)).toMatch(/^HTTP\/1\.1 408 /);
    const trickle = await rawConnect(proxy.port);
    const done = closedBy(trickle);
    const line = 'GET /ca.pem HTTP/1.1\r\nhost: x\r\nx-slow: ' + 'a'.repeat(40);
    let i = 0;
    const t = setInterval(() => (i < line.length ? trickle.write(line[i++]) : clearInterval(t)), 50);
    expect(await done).toMatch(/^HTTP\/1\.1 408 /);
    clearInterval(t);
    expect(errors.every((e) => e.kind === 'timeout')).toBe(true);
  });

  it('closes a TLS handshake that never completes (CONNECT answered, then silence)', async () => {
    const s = await rawConnect(proxy.port);
    const done = closedBy(s);
    s.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
    expect(await done).toMatch(/^HTTP\/1\.1 200 /);
    await waitFor(errors, (e) => e.some((x) => x.kind === 'timeout' && x.message.includes('TLS handshake')), 'the handshake timeout');
  });

  it('closes a kept-alive connection once idle, quietly', async () => {
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    const done = closedBy(s);
    // Written by hand: an HTTP client would close the connection itself on the short keep-alive hint.
    s.write('PUT /mdm HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\nx');
    expect(await done).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nok$/);
    expect(errors).toEqual([]);
  });

  it('cuts off a request whose body stalls, and records the exchange as a timeout', async () => {
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    const done = closedBy(s);
    s.write('PUT /mdm HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n' + 'x'.repeat(1000));
    await done;
    await waitFor(exchanges, (x) => x.length === 1, 'the exchange');
    expect(exchanges[0].error?.kind).toBe('timeout');
    expect(errors.map((e) => e.kind)).toContain('timeout');
  });

  it('gives up on a server that does not answer: 504 and a timeout', async () => {
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    const r = await requestOver(s, { method: 'GET', path: '/slow' });
    s.destroy();
    expect(r.status).toBe(504);
    await waitFor(exchanges, (x) => x.length === 1, 'the exchange');
    expect(exchanges[0].error?.kind).toBe('timeout');
  });
});

describe('the push path', () => {
  it('closes an APNs connection whose TLS handshake never completes', async () => {
    const apns = await startSimApns();
    const certs = tempDir();
    const errors: ProxyError[] = [];
    const proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [], upstream: 'https://127.0.0.1:1/', certsDir: certs.dir, maxBody: 1,
      timeouts: { handshakeMs: 300 },
      apns: { ...apns.pushCert, upstream: apns.url, upstreamCa: [apns.ca], onPush() {} },
      onExchange() {}, onError: (e) => errors.push(e),
    });
    try {
      const s = await rawConnect(proxy.port);
      const done = closedBy(s);
      s.write('CONNECT api.push.apple.com:443 HTTP/1.1\r\nhost: api.push.apple.com:443\r\n\r\n');
      expect(await done).toMatch(/^HTTP\/1\.1 200 /);
      await waitFor(errors, (e) => e.some((x) => x.kind === 'tls' && /timeout/i.test(x.message)), 'the handshake timeout');
    } finally {
      await proxy.close();
      await apns.close();
      certs.remove();
    }
  });
});

describe('connection cap and copy budget', () => {
  it('closes connections past --max-connections on arrival, reports it once, and serves again below it', async () => {
    const certs = tempDir();
    const errors: ProxyError[] = [];
    const proxy = await startProxy({ host: '127.0.0.1', port: 0, mdmHosts: ['127.0.0.1:1'], certsDir: certs.dir, maxBody: 1, maxConnections: 5, onExchange() {}, onError: (e) => errors.push(e) });
    try {
      const held = await Promise.all(Array.from({ length: 5 }, () => rawConnect(proxy.port)));
      // Each held connection is accepted before the next test connection is made: wait for the proxy to have them.
      for (const s of held) s.write('GET /ca.pem HTTP/1.1\r\nhost: x\r\n\r\n');
      await Promise.all(held.map((s) => new Promise((r) => s.once('data', r))));
      for (let i = 0; i < 3; i++) {
        const extra = await rawConnect(proxy.port);
        extra.write('GET /ca.pem HTTP/1.1\r\nhost: x\r\n\r\n');
        expect(await closedBy(extra)).toBe('');
      }
      expect(errors.map((e) => e.kind)).toEqual(['connection-limit']);
      held.forEach((s) => s.destroy());
      await new Promise((r) => setTimeout(r, 50));
      const again = await rawConnect(proxy.port);
      const done = closedBy(again);
      again.write('GET /ca.pem HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
      expect(await done).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      await proxy.close();
      certs.remove();
    }
  });

  it('past --body-budget forwards bodies whole but copies none, flags them truncated, and says so once per incident', async () => {
    const upstream = await startUpstream((s, res) => res.end(`got ${s.body.length}`));
    const certs = tempDir();
    const errors: ProxyError[] = [];
    const exchanges: Exchange[] = [];
    const target = `127.0.0.1:${upstream.port}`;
    const proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [target], upstreamCa: [upstream.ca.certPem], certsDir: certs.dir, maxBody: 1 << 20, bodyBudget: 64 * 1024,
      onExchange: (ex) => exchanges.push(ex), onError: (e) => errors.push(e),
    });
    const upload = async (total: number, first: number) => {
      const s = await connectTls(proxy.port, target, proxy.ca.certPem);
      const req = requestOver(s, { body: [Buffer.alloc(first, 1)], headers: { 'content-length': String(total) } });
      return { s, req };
    };
    try {
      // A holds 60 KB of the 64 KB budget and stalls; B's body (TLS records of 16 KB) no longer fits.
      const a = await upload(64 * 1024, 60 * 1024);
      await waitFor(upstream.seen, () => proxy.copiesInFlight() >= 60 * 1024, 'A holding its copy');
      const b = await upload(48 * 1024, 48 * 1024);
      expect((await b.req).body.toString()).toBe(`got ${48 * 1024}`);
      await waitFor(errors, (e) => e.length === 1, 'the copy-budget event');
      expect(errors.map((e) => e.kind)).toEqual(['copy-budget']);
      a.s.write(Buffer.alloc(4 * 1024, 1));
      expect((await a.req).body.toString()).toBe(`got ${64 * 1024}`);
      await waitFor(exchanges, (x) => x.length === 2, 'both exchanges');
      const [bEx, aEx] = exchanges;
      expect(bEx.requestTruncated).toBe(true);
      expect(bEx.requestBody.length).toBe(0);
      expect(bEx.requestSize).toBe(48 * 1024);
      expect(aEx.requestTruncated).toBe(false);
      expect(aEx.requestBody.length).toBe(64 * 1024);
      // Released: the next body is copied whole again, and a new overflow is a new incident.
      await waitFor(exchanges, () => proxy.copiesInFlight() === 0, 'copies released');
      const c = await upload(16 * 1024, 16 * 1024);
      await c.req;
      await waitFor(exchanges, (x) => x.length === 3, 'C');
      expect(exchanges[2].requestTruncated).toBe(false);
      const d = await upload(100 * 1024, 100 * 1024);
      await d.req;
      await waitFor(errors, (e) => e.length === 2, 'a second incident');
      [a, b, c, d].forEach((x) => x.s.destroy());
    } finally {
      await proxy.close();
      await upstream.close();
      certs.remove();
    }
  });
});

describe('stalled uploads', () => {
  it('300 devices stalled mid-upload (more than the old 256-socket agent cap) do not hold up another device', async () => {
    const upstream = await startUpstream((_s, res) => res.end('ok'));
    const certs = tempDir();
    const target = `127.0.0.1:${upstream.port}`;
    const proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [target], upstreamCa: [upstream.ca.certPem], certsDir: certs.dir, maxBody: 1 << 20,
      onExchange() {}, onError() {},
    });
    const stalled: tls.TLSSocket[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        const s = await connectTls(proxy.port, target, proxy.ca.certPem);
        s.on('error', () => undefined);
        s.write('PUT /mdm HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n' + 'x'.repeat(1024));
        stalled.push(s);
      }
      // Every stalled upload holds an upstream socket; the next device still gets through.
      await waitFor([], () => proxy.upstreamSockets() >= 300, 'the stalled uploads upstream');
      const s = await connectTls(proxy.port, target, proxy.ca.certPem);
      const r = await requestOver(s, { body: Buffer.from('hello') });
      s.destroy();
      expect(r.status).toBe(200);
    } finally {
      stalled.forEach((s) => s.destroy());
      await proxy.close();
      await upstream.close();
      certs.remove();
    }
  }, 60_000);
});
