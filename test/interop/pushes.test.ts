/**
 * NanoMDM's pushes through mdmtap: NanoMDM reaches APNs through mdmtap (HTTPS_PROXY, trusting mdmtap's CA),
 * mdmtap re-originates each push with the push certificate to a local APNs stand-in and maps it to the device
 * by the token of its TokenUpdate.
 */
import { describe, expect, it } from 'vitest';
import { labPerTest } from './helpers/lab-per-test.js';
import { command } from './helpers/commands.js';
import type { PushEvent } from '../../src/model/events.js';

const newLab = labPerTest();

describe.each(['signature', 'tls'] as const)('identity by %s', (mode) => {
  it('GET /v1/push and an enqueue without nopush each reach APNs through mdmtap as a push mapped to the device', async () => {
    const lab = await newLab({ mode });
    const device = lab.device();
    await device.enrol();

    const pushed = await lab.nanomdm.push([device.udid]);
    expect(pushed.status).toBe(200);
    expect(JSON.parse(pushed.body)).toMatchObject({ status: { [device.udid]: { push_result: expect.any(String) } } });
    const first = (await lab.mdmtap.waitEvent((e) => e.type === 'push', 'push event')) as PushEvent;
    expect(first).toMatchObject({ udid: device.udid, channel: 'device', apnsStatus: 200, tokenHex: `${device.tokenHex.slice(0, 8)}…` });

    const enqueued = await lab.nanomdm.enqueue([device.udid], command('SecurityInfo'), { push: true });
    expect(enqueued.status).toBe(200);
    await lab.mdmtap.waitUntil((all) => all.filter((e) => e.type === 'push').length === 2, 'a second push event');
    expect(lab.mdmtap.events().filter((e) => e.type === 'push')).toEqual([first, expect.objectContaining({ udid: device.udid, apnsStatus: 200 })]);

    // What reached the APNs stand-in is what NanoMDM sent: the device's token in the path, its PushMagic in the body.
    expect(lab.apns.requests).toHaveLength(2);
    for (const r of lab.apns.requests) {
      expect(r).toMatchObject({ method: 'POST', path: `/3/device/${device.tokenHex}`, status: 200 });
      expect(JSON.parse(r.body)).toEqual({ mdm: device.pushMagic });
      // NanoMDM (v0.9.0-14) sends no apns-* header at all: no apns-topic, apns-priority, apns-expiration or
      // apns-push-type. A rule about pushes must not expect them from it.
      expect(Object.keys(r.headers).filter((h) => h.startsWith('apns-'))).toEqual([]);
    }
  });
});
