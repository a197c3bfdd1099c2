import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceServer, type ReferenceServer } from '../../src/sim/server.js';
import { SimDevice } from '../../src/sim/device.js';
import { startSimApns, type SimApns } from '../../src/sim/apns.js';
import { startFleet } from '../../src/sim/fleet.js';
import type { PolicyName } from '../../src/sim/policy.js';
import { PushClient } from '../../src/sim/push-client.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(policy: PolicyName, refuse: (rt: string, attempt: number) => boolean, apns?: SimApns) {
  const server = await startReferenceServer({
    policy,
    pushDelayMs: 20,
    ...(apns ? { apns: { url: apns.url, ca: [apns.ca], ...apns.pushCert } } : {}),
  });
  cleanups.push(() => server.close());
  const device = new SimDevice({ serverUrl: server.url, transport: { ca: [server.ca] }, seed: 1, platform: 'macOS', notNowFor: refuse });
  cleanups.push(() => device.stop());
  await device.enroll();
  return { server, device };
}

const seq = (steps: Array<{ status: string; reply: string }>) => steps.map((s) => `${s.status}→${s.reply}`);
const refuseInstallOnce = (rt: string, attempt: number) => rt === 'InstallProfile' && attempt === 1;

function enqueueTwo(server: ReferenceServer, udid: string) {
  server.enqueue(udid, 'InstallProfile');
  server.enqueue(udid, 'SecurityInfo');
}

describe('reference server policies, seen from the device', () => {
  it('apple: stops after NotNow and re-sends on the next poll', async () => {
    const { server, device } = await setup('apple', refuseInstallOnce);
    enqueueTwo(server, device.udid);
    expect(seq(await device.session())).toEqual(['Idle→InstallProfile', 'NotNow→end']);
    expect(seq(await device.session())).toEqual(['Idle→InstallProfile', 'Acknowledged→SecurityInfo', 'Acknowledged→end']);
    expect(server.pendingCommands(device.udid)).toEqual([]);
  });

  it('nanomdm: skips the refused command for one pick, so it comes back and the session ends on NotNow', async () => {
    const { server, device } = await setup('nanomdm', (rt) => rt === 'InstallProfile');
    enqueueTwo(server, device.udid);
    expect(seq(await device.session())).toEqual(['Idle→InstallProfile', 'NotNow→SecurityInfo', 'Acknowledged→InstallProfile', 'NotNow→end']);
  });

  it('nanomdm: re-offers a refused command after any status but NotNow, so a session can complete it (recovered)', async () => {
    const { server, device } = await setup('nanomdm', refuseInstallOnce);
    enqueueTwo(server, device.udid);
    expect(seq(await device.session())).toEqual(['Idle→InstallProfile', 'NotNow→SecurityInfo', 'Acknowledged→InstallProfile', 'Acknowledged→end']);
    expect(server.pendingCommands(device.udid)).toEqual([]);
  });

  it('nanomdm: the reply to a NotNow skips every command refused in the session, not only the last', async () => {
    const { server, device } = await setup('nanomdm', (rt) => rt === 'InstallProfile' || rt === 'RemoveProfile');
    server.enqueue(device.udid, 'InstallProfile');
    server.enqueue(device.udid, 'RemoveProfile');
    server.enqueue(device.udid, 'SecurityInfo');
    expect(seq(await device.session())).toEqual([
      'Idle→InstallProfile',
      'NotNow→RemoveProfile',
      'NotNow→SecurityInfo',
      'Acknowledged→InstallProfile',
      'NotNow→end',
    ]);
  });

  it('keep-going: never re-offers the refused command in that session, which ends on Acknowledged', async () => {
    const { server, device } = await setup('keep-going', refuseInstallOnce);
    enqueueTwo(server, device.udid);
    expect(seq(await device.session())).toEqual(['Idle→InstallProfile', 'NotNow→SecurityInfo', 'Acknowledged→end']);
    expect(server.pendingCommands(device.udid).map((c) => c.requestType)).toEqual(['InstallProfile']);
    expect(server.stats.pushesSent).toBe(0);
  });

  it('push-after: keeps going, then pushes through APNs and the woken device fetches the command', async () => {
    const apns = await startSimApns();
    cleanups.push(() => apns.close());
    const sessions: string[][] = [];
    const { server, device } = await setup('push-after', refuseInstallOnce, apns);
    apns.register(device.tokens.device.toString('hex'), () => device.wake('device'));
    enqueueTwo(server, device.udid);
    const woke = new Promise<string[]>((resolve) => {
      const orig = device.sessions.length;
      const check = () => (device.sessions.length > orig + 1 ? resolve(seq(device.sessions.at(-1)!.steps)) : setTimeout(check, 10));
      check();
    });
    sessions.push(seq(await device.session()));
    expect(sessions[0]).toEqual(['Idle→InstallProfile', 'NotNow→SecurityInfo', 'Acknowledged→end']);
    expect(await woke).toEqual(['Idle→InstallProfile', 'Acknowledged→end']);
    expect(server.stats.pushResults).toEqual([{ status: 200 }]);
    expect(apns.delivered.at(-1)).toMatchObject({ status: 200, tokenHex: device.tokens.device.toString('hex') });
  });
});

describe('simulated APNs', () => {
  it('refuses a client without the push certificate, and reports unknown and malformed tokens', async () => {
    const apns = await startSimApns();
    cleanups.push(() => apns.close());
    const noCert = new PushClient({ url: apns.url, ca: [apns.ca], cert: '', key: '' });
    cleanups.push(() => noCert.close());
    expect((await noCert.push('00'.repeat(32), 'm')).status).toBe(0);
    const ok = new PushClient({ url: apns.url, ca: [apns.ca], ...apns.pushCert });
    cleanups.push(() => ok.close());
    expect(await ok.push('ab'.repeat(32), 'm')).toEqual({ status: 410, reason: 'Unregistered' });
    expect(await ok.push('xyz', 'm')).toEqual({ status: 400, reason: 'BadDeviceToken' });
  });
});

describe('fleet', () => {
  it('enrols ten devices, runs their first sessions and stops cleanly', async () => {
    const server = await startReferenceServer({ policy: 'apple' });
    cleanups.push(() => server.close());
    const fleet = startFleet({ count: 10, serverUrl: server.url, transport: { ca: [server.ca] }, seed: 3 });
    cleanups.push(() => fleet.stop());
    await fleet.ready;
    expect(server.knownDevices()).toHaveLength(10);
    expect(fleet.devices.every((d) => d.sessions.length >= 1)).toBe(true);
    expect(new Set(fleet.devices.map((d) => d.udid)).size).toBe(10);
    expect(fleet.devices.some((d) => d.platform === 'macOS')).toBe(true);
  });
});
