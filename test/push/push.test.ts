/**
 * Push observation over real loopback TLS and HTTP/2: reference MDM server → mdmtap (as its HTTPS proxy, with the
 * push certificate) → simulated APNs that demands that certificate → the woken device comes back through mdmtap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import http2 from 'node:http2';
import tls from 'node:tls';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { LivePipeline } from '../../src/live/pipeline.js';
import type { AnalyzerEvent, PushEvent, WarningEvent } from '../../src/model/events.js';
import { startReferenceServer, type ReferenceServer } from '../../src/sim/server.js';
import { startSimApns, type SimApns } from '../../src/sim/apns.js';
import { SimDevice } from '../../src/sim/device.js';
import { PushClient } from '../../src/sim/push-client.js';
import type { PolicyName } from '../../src/sim/policy.js';
import { tempDir, waitFor } from '../helpers/tls-peers.js';

const GRACE = 3_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Rig {
  apns: SimApns;
  server: ReferenceServer;
  proxy: RunningProxy;
  events: AnalyzerEvent[];
  errors: string[];
  device: SimDevice;
  jump(): void;
  pushClient(): PushClient;
}

async function rig(policy: PolicyName, opts: { apnsUpstream?: string } = {}): Promise<Rig> {
  const apns = await startSimApns();
  cleanups.push(() => apns.close());
  const server = await startReferenceServer({ policy, pushDelayMs: 10 });
  cleanups.push(() => server.close());
  let skew = 0;
  const pipeline = new LivePipeline({ pushGraceMs: GRACE, now: () => Date.now() + skew });
  const events: AnalyzerEvent[] = [];
  const errors: string[] = [];
  pipeline.addSink({ event: (e) => (e.type === 'error' ? errors.push(e.kind) : undefined, events.push(e)) });
  const certs = tempDir();
  cleanups.push(() => certs.remove());
  const proxy = await startProxy({
    host: '127.0.0.1', port: 0, mdmHosts: [`127.0.0.1:${server.port}`], upstreamCa: [server.ca], certsDir: certs.dir, maxBody: 1 << 20,
    onExchange: (ex) => pipeline.exchange(ex), onError: (e) => pipeline.error(e.kind, e.message),
    apns: { ...apns.pushCert, upstream: opts.apnsUpstream ?? apns.url, upstreamCa: [apns.ca], onPush: (p) => pipeline.push(p) },
  });
  cleanups.push(() => proxy.close());
  // The server sends its pushes to Apple's host through mdmtap, as NanoMDM does behind HTTPS_PROXY.
  const target = { url: 'https://api.push.apple.com', ca: [proxy.ca.certPem], ...apns.pushCert, proxy: { host: '127.0.0.1', port: proxy.port } };
  server.setApns(target);
  const device = new SimDevice({
    serverUrl: server.url, transport: { ca: [proxy.ca.certPem], proxy: { host: '127.0.0.1', port: proxy.port } }, seed: 21, platform: 'macOS',
    notNowFor: (rt, attempt) => rt === 'InstallProfile' && attempt === 1,
  });
  cleanups.push(() => device.stop());
  apns.register(device.tokens.device.toString('hex'), () => device.wake('device'));
  await device.enroll();
  return {
    apns, server, proxy, events, errors, device,
    jump: () => {
      skew += GRACE * 2;
      pipeline.tick();
    },
    pushClient: () => {
      const c = new PushClient(target);
      cleanups.push(() => c.close());
      return c;
    },
  };
}

const pushes = (evs: AnalyzerEvent[]) => evs.filter((e): e is PushEvent => e.type === 'push');
const rules = (evs: AnalyzerEvent[]) => evs.filter((e): e is WarningEvent => e.type === 'warning').map((e) => e.rule);

describe('APNs interception', () => {
  it('sees the push, maps it to the device channel, and the obligation is discharged by push', async () => {
    const r = await rig('push-after');
    r.server.enqueue(r.device.udid, 'InstallProfile');
    r.server.enqueue(r.device.udid, 'SecurityInfo');
    await r.device.session();
    await waitFor(r.device.sessions, (s) => s.length === 2, 'the woken session');
    await waitFor(r.events, (e) => e.some((x) => x.type === 'obligation' && x.event === 'discharged'), 'the discharge');
    const p = pushes(r.events);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ udid: r.device.udid, channel: 'device', apnsStatus: 200, apnsPriority: '10', apnsExpiration: '0' });
    expect(p[0].tokenHex).toBe(`${r.device.tokens.device.toString('hex').slice(0, 8)}…`);
    expect(r.events.find((e) => e.type === 'obligation' && e.event === 'discharged')).toMatchObject({ by: 'push' });
    // APNs saw the request unchanged: the certificate-checked delivery reached the device's token.
    expect(r.apns.delivered).toEqual([expect.objectContaining({ status: 200, tokenHex: r.device.tokens.device.toString('hex') })]);
    expect(r.server.stats.pushResults).toEqual([{ status: 200 }]);
    r.jump();
    expect(rules(r.events)).toEqual([]);
    // Nothing in the events carries the token or the PushMagic.
    const text = JSON.stringify(r.events);
    expect(text).not.toContain(r.device.tokens.device.toString('hex'));
    expect(text).not.toContain(r.device.pushMagic.device);
  });

  it('a keep-going server that never pushes still raises notnow-no-push', async () => {
    const r = await rig('keep-going');
    r.server.enqueue(r.device.udid, 'InstallProfile');
    r.server.enqueue(r.device.udid, 'SecurityInfo');
    const steps = await r.device.session();
    await waitFor(r.events, (e) => e.filter((x) => x.type === 'exchange').length >= 2 + steps.length, 'the exchanges');
    r.jump();
    expect(pushes(r.events)).toEqual([]);
    expect(rules(r.events)).toEqual(['notnow-no-push']);
  });

  it('a push APNs rejects, and a push to a token no TokenUpdate announced, raise their rules', async () => {
    const r = await rig('apple');
    const client = r.pushClient();
    // A token APNs does not know (410) and no TokenUpdate announced either.
    const unknown = 'ab'.repeat(32);
    expect(await client.push(unknown, 'magic')).toEqual({ status: 410, reason: 'Unregistered' });
    await waitFor(r.events, (e) => pushes(e).length === 1, 'the push event');
    expect(rules(r.events)).toEqual(['push-rejected', 'push-unknown-token']);
    expect(r.events.find((e) => e.type === 'warning' && e.rule === 'push-rejected')).toMatchObject({ detail: { apnsStatus: 410, reason: 'Unregistered' } });
  });

  it('a push whose mdm value is not the PushMagic is flagged', async () => {
    const r = await rig('apple');
    const client = r.pushClient();
    expect((await client.push(r.device.tokens.device.toString('hex'), 'not-the-push-magic')).status).toBe(200);
    await waitFor(r.events, (e) => pushes(e).length === 1, 'the push event');
    expect(rules(r.events)).toEqual(['push-magic-mismatch']);
  });

  it('APNs unreachable: the server sees the failure (502) and an error event is emitted', async () => {
    const dead = net.createServer();
    await new Promise<void>((res) => dead.listen(0, '127.0.0.1', res));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((res) => dead.close(() => res()));
    const r = await rig('apple', { apnsUpstream: `https://127.0.0.1:${port}` });
    const res = await r.pushClient().push(r.device.tokens.device.toString('hex'), r.device.pushMagic.device);
    expect(res.status).toBe(502);
    await waitFor(r.events, (e) => pushes(e).length === 1, 'the push event');
    expect(pushes(r.events)[0]).toMatchObject({ apnsStatus: 0 });
    expect(r.errors).toContain('apns-unreachable');
  });
});

describe('APNs interception is no way around the proxy', () => {
  it('re-originates to the APNs host the client CONNECTed to, never to the name in its ClientHello', async () => {
    // What a forged server name would have reached: any host and port, from mdmtap's address, with the push certificate.
    let reached = 0;
    const victim = net.createServer((c) => {
      reached++;
      c.destroy();
    });
    await new Promise<void>((res) => victim.listen(0, '127.0.0.1', res));
    cleanups.push(() => new Promise<void>((res) => victim.close(() => res())));
    const victimPort = (victim.address() as net.AddressInfo).port;
    const apns = await startSimApns();
    cleanups.push(() => apns.close());
    const errors: string[] = [];
    const certs = tempDir();
    cleanups.push(() => certs.remove());
    // Apple's names resolve to this machine, so the re-originated request stays on it (nothing listens on 2197).
    const lookup = ((_host: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
      o?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as unknown as net.LookupFunction;
    const proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: ['mdm.invalid'], certsDir: certs.dir, maxBody: 1 << 16,
      onExchange: () => undefined, onError: (e) => errors.push(`${e.kind}: ${e.message}`),
      apns: { ...apns.pushCert, onPush: () => undefined, lookup },
    });
    cleanups.push(() => proxy.close());
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('CONNECT api.push.apple.com:2197 HTTP/1.1\r\nhost: api.push.apple.com:2197\r\n\r\n');
    await new Promise<void>((res) => socket.once('data', () => res()));
    const client = http2.connect('https://api.push.apple.com:2197', {
      createConnection: () => tls.connect({ socket, servername: `127.0.0.1:${victimPort}/`, ALPNProtocols: ['h2'], rejectUnauthorized: false }),
    });
    client.on('error', () => undefined);
    cleanups.push(() => void client.destroy());
    const status = await new Promise<number>((res) => {
      const req = client.request({ ':method': 'POST', ':path': `/3/device/${'ab'.repeat(32)}` });
      req.on('response', (h) => res(Number(h[':status'])));
      req.on('error', () => res(0));
      req.end('{"mdm":"x"}');
    });
    expect(status).toBe(502);
    expect(reached).toBe(0);
    expect(errors.some((e) => e.startsWith('apns-unreachable: APNs https://api.push.apple.com:2197'))).toBe(true);
  });
});

describe('intercepted APNs connections', () => {
  it('close after --tunnel-timeout with nothing either way: one that never sends the HTTP/2 preface, and an idle session', async () => {
    const apns = await startSimApns();
    cleanups.push(() => apns.close());
    const certs = tempDir();
    cleanups.push(() => certs.remove());
    const proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: ['mdm.invalid'], certsDir: certs.dir, maxBody: 1 << 16, timeouts: { tunnelMs: 500 },
      onExchange: () => undefined, onError: () => undefined,
      apns: { ...apns.pushCert, upstream: apns.url, upstreamCa: [apns.ca], onPush: () => undefined },
    });
    cleanups.push(() => proxy.close());
    const connectApns = async () => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write('CONNECT api.push.apple.com:443 HTTP/1.1\r\nhost: api.push.apple.com:443\r\n\r\n');
      await new Promise<void>((res) => socket.once('data', () => res()));
      return socket;
    };
    // TLS completed, then silence: no preface.
    const silent = tls.connect({ socket: await connectApns(), servername: 'api.push.apple.com', ALPNProtocols: ['h2'], rejectUnauthorized: false });
    silent.on('error', () => undefined);
    // Read, so that the close mdmtap sends is seen.
    silent.resume();
    const silentClosed = new Promise<void>((res) => silent.once('close', () => res()));
    // A session that pushed once and then went quiet.
    const raw = await connectApns();
    const session = http2.connect('https://api.push.apple.com', {
      createConnection: () => tls.connect({ socket: raw, servername: 'api.push.apple.com', ALPNProtocols: ['h2'], rejectUnauthorized: false }),
    });
    session.on('error', () => undefined);
    const sessionClosed = new Promise<void>((res) => session.once('close', () => res()));
    const status = await new Promise<number>((res) => {
      const req = session.request({ ':method': 'POST', ':path': `/3/device/${'cd'.repeat(32)}` });
      req.on('response', (h) => res(Number(h[':status'])));
      req.on('error', () => res(0));
      req.resume();
      req.end('{"mdm":"x"}');
    });
    expect(status).toBeGreaterThan(0);
    await Promise.all([silentClosed, sessionClosed]);
  });
});

describe('the simulated servers', () => {
  // The demo stopping while a device, or a server's push client, is connecting: it must still exit.
  for (const [name, open] of [
    ['APNs', async () => { const a = await startSimApns(); return { port: a.port, close: () => a.close() }; }],
    ['the reference MDM server', async () => { const s = await startReferenceServer({ policy: 'apple' }); return { port: s.port, close: () => s.close() }; }],
  ] as const) {
    it(`${name} closes while a connection is still in its TLS handshake`, async () => {
      const server = await open();
      // Connected, and silent: the TLS handshake never starts, so no HTTP layer knows of this connection.
      const socket = net.connect(server.port, '127.0.0.1');
      await new Promise<void>((r) => socket.once('connect', () => r()));
      const closedByServer = new Promise<void>((r) => socket.once('close', () => r()));
      socket.on('error', () => {});
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        server.close().then(() => 'closed'),
        new Promise<string>((r) => (timer = setTimeout(() => r('still waiting after 5 s'), 5000))),
      ]);
      clearTimeout(timer);
      socket.destroy();
      expect(outcome).toBe('closed');
      await closedByServer;
    });
  }
});
