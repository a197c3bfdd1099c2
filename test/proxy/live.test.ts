/**
 * The whole live path over real loopback TLS: simulated device → mdmtap (forward mode) → reference MDM server,
 * with the live pipeline analysing every exchange. Each server policy must produce the outcomes and warnings
 * Apple's NotNow rule predicts. Time past the push grace is simulated by moving the pipeline's clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../../src/proxy/proxy.js';
import { LivePipeline } from '../../src/live/pipeline.js';
import type { AnalyzerEvent, SessionEvent, WarningEvent } from '../../src/model/events.js';
import { startReferenceServer } from '../../src/sim/server.js';
import { SimDevice } from '../../src/sim/device.js';
import { startSimApns } from '../../src/sim/apns.js';
import type { PolicyName } from '../../src/sim/policy.js';
import { connectTls, requestOver, startUpstream, tempDir, waitFor } from '../helpers/tls-peers.js';

const GRACE = 2_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(policy: PolicyName, opts: { maxBody?: number; appListBytes?: number } = {}) {
  const apns = await startSimApns();
  cleanups.push(() => apns.close());
  const server = await startReferenceServer({ policy, pushDelayMs: 10, apns: { url: apns.url, ca: [apns.ca], ...apns.pushCert } });
  cleanups.push(() => server.close());
  let skew = 0;
  const pipeline = new LivePipeline({ pushGraceMs: GRACE, now: () => Date.now() + skew });
  const events: AnalyzerEvent[] = [];
  pipeline.addSink({ event: (e) => events.push(e) });
  const certs = tempDir();
  cleanups.push(() => certs.remove());
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    mdmHosts: [`127.0.0.1:${server.port}`],
    upstreamCa: [server.ca],
    certsDir: certs.dir,
    maxBody: opts.maxBody ?? 16 * 1024 * 1024,
    onExchange: (ex) => pipeline.exchange(ex),
    onError: (e) => pipeline.error(e.kind, e.message),
  });
  cleanups.push(() => proxy.close());
  const device = new SimDevice({
    serverUrl: server.url,
    transport: { ca: [proxy.ca.certPem], proxy: { host: '127.0.0.1', port: proxy.port } },
    seed: 11,
    platform: 'macOS',
    notNowFor: (rt, attempt) => rt === 'InstallProfile' && (policy === 'nanomdm' || attempt === 1),
    ...(opts.appListBytes ? { appListBytes: opts.appListBytes } : {}),
  });
  cleanups.push(() => device.stop());
  apns.register(device.tokens.device.toString('hex'), () => device.wake('device'));
  await device.enroll();
  const exchangesSeen = () => events.filter((e) => e.type === 'exchange').length;
  const settle = (n: number) => waitFor(events, () => exchangesSeen() >= n, `${n} exchanges`);
  const jumpPastGrace = () => {
    skew += GRACE * 2;
    pipeline.tick();
  };
  return { server, device, events, settle, jumpPastGrace, exchangesSeen };
}

const outcomes = (evs: AnalyzerEvent[]) => evs.filter((e): e is SessionEvent => e.type === 'session' && e.event === 'end').map((e) => e.outcome);
const rules = (evs: AnalyzerEvent[]) => evs.filter((e): e is WarningEvent => e.type === 'warning').map((e) => e.rule);

describe('each server policy through real mdmtap', () => {
  it('apple: ended on NotNow, then clean; nothing raised', async () => {
    const r = await rig('apple');
    r.server.enqueue(r.device.udid, 'InstallProfile');
    r.server.enqueue(r.device.udid, 'SecurityInfo');
    const s1 = await r.device.session();
    const s2 = await r.device.session();
    await r.settle(2 + s1.length + s2.length);
    r.jumpPastGrace();
    expect(outcomes(r.events)).toEqual(['ended-on-notnow', 'clean']);
    expect(rules(r.events)).toEqual([]);
  });

  it('nanomdm: the refused command comes back and the session ends on NotNow; nothing raised', async () => {
    const r = await rig('nanomdm');
    r.server.enqueue(r.device.udid, 'InstallProfile');
    r.server.enqueue(r.device.udid, 'SecurityInfo');
    const s1 = await r.device.session();
    await r.settle(2 + s1.length);
    r.jumpPastGrace();
    expect(outcomes(r.events)).toEqual(['ended-on-notnow']);
    expect(rules(r.events)).toEqual([]);
  });

  it('keep-going: stranded, and notnow-no-push once the grace has passed', async () => {
    const r = await rig('keep-going');
    r.server.enqueue(r.device.udid, 'InstallProfile');
    r.server.enqueue(r.device.udid, 'SecurityInfo');
    const s1 = await r.device.session();
    await r.settle(2 + s1.length);
    expect(outcomes(r.events)).toEqual(['stranded']);
    expect(rules(r.events)).toEqual([]);
    r.jumpPastGrace();
    expect(rules(r.events)).toEqual(['notnow-no-push']);
    const w = r.events.find((e): e is WarningEvent => e.type === 'warning')!;
    expect(w.udid).toBe(r.device.udid);
    expect(w.message).toContain('InstallProfile');
  });

  it('push-after: stranded, then the push brings the device back within the grace; nothing raised', async () => {
    const r = await rig('push-after');
    r.server.enqueue(r.device.udid, 'InstallProfile');
    r.server.enqueue(r.device.udid, 'SecurityInfo');
    await r.device.session();
    // The push wakes the device, which fetches the stranded command in a second session.
    await waitFor(r.device.sessions, (s) => s.length === 2, 'the woken session');
    await r.settle(2 + r.device.sessions.reduce((n, s) => n + s.steps.length, 0));
    r.jumpPastGrace();
    expect(outcomes(r.events)).toEqual(['stranded', 'clean']);
    const obligations = r.events.filter((e) => e.type === 'obligation').map((e) => (e as { event: string; by?: string }).event + (e as { by?: string }).by);
    expect(obligations).toEqual(['openundefined', 'discharged' + 'device-returned']);
    expect(rules(r.events)).toEqual([]);
  });
});

describe('reports larger than --max-body', () => {
  it('are identified from the whole body as it passes, so the session ends clean, not interrupted', async () => {
    const r = await rig('apple', { maxBody: 64 * 1024, appListBytes: 2 * 1024 * 1024 });
    r.server.enqueue(r.device.udid, 'InstalledApplicationList');
    const s1 = await r.device.session();
    expect(s1.map((x) => `${x.status}→${x.reply}`)).toEqual(['Idle→InstalledApplicationList', 'Acknowledged→end']);
    await r.settle(2 + s1.length);
    r.jumpPastGrace();
    const report = r.events.find((e) => e.type === 'exchange' && e.status === 'Acknowledged');
    expect(report).toMatchObject({ udid: r.device.udid, commandUUID: expect.any(String), answersRequestType: 'InstalledApplicationList' });
    expect(outcomes(r.events)).toEqual(['clean']);
    expect(r.events.filter((e) => 'udid' in e && e.udid === 'unknown')).toEqual([]);
    expect(rules(r.events)).toEqual([]);
  });
});

describe('bodies mdmtap cannot decode', () => {
  it('forwards a malformed plist unchanged and flags malformed-body', async () => {
    const upstream = await startUpstream((_s, res) => res.end());
    cleanups.push(() => upstream.close());
    const events: AnalyzerEvent[] = [];
    const pipeline = new LivePipeline({});
    pipeline.addSink({ event: (e) => events.push(e) });
    const certs = tempDir();
    cleanups.push(() => certs.remove());
    const target = `127.0.0.1:${upstream.port}`;
    const proxy = await startProxy({
      host: '127.0.0.1', port: 0, mdmHosts: [target], upstreamCa: [upstream.ca.certPem], certsDir: certs.dir, maxBody: 1 << 20,
      onExchange: (ex) => pipeline.exchange(ex), onError: (e) => pipeline.error(e.kind, e.message),
    });
    cleanups.push(() => proxy.close());
    const broken = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict><key>UDID</key><string>U-1</string><key>Status</key><strin>Idle</dict></plist>');
    const s = await connectTls(proxy.port, target, proxy.ca.certPem);
    const res = await requestOver(s, { body: broken, headers: { 'content-type': 'application/x-apple-aspen-mdm' } });
    s.destroy();
    expect(res.status).toBe(200);
    expect(upstream.seen[0].body.equals(broken)).toBe(true);
    await waitFor(events, (e) => e.some((x) => x.type === 'warning'), 'the malformed-body warning');
    expect(events.find((e) => e.type === 'warning')).toMatchObject({ rule: 'malformed-body', severity: 'info', detail: { side: 'request' } });
  });
});
