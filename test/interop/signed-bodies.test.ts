/**
 * Mdm-Signature mode: NanoMDM verifies a CMS signature over the exact body bytes, so each request it accepts
 * proves mdmtap forwarded that body byte for byte, whatever its encoding or how it was sent.
 */
import { describe, expect, it } from 'vitest';
import * as plist from 'plist';
import { labPerTest } from './helpers/lab-per-test.js';
import { applePlist } from './helpers/apple-plist.js';
import { makeDeviceCa } from './helpers/certificates.js';
import { CHECKIN, COMMAND } from './helpers/device.js';
import { obligations, sessionEnds, warnings } from './helpers/verdicts.js';

const newLab = labPerTest();

describe('identity by Mdm-Signature', () => {
  it('NanoMDM accepts the signature of every body mdmtap forwards: CRLF, non-ASCII, chunked in pieces, 300 KB', async () => {
    const lab = await newLab({ mode: 'signature' });
    const device = lab.device();
    const topic = lab.pushCert.topic;
    const bodies: Array<{ what: string; body: Buffer; chunked?: boolean }> = [
      { what: 'Authenticate, non-ASCII UTF-8', body: applePlist({ MessageType: 'Authenticate', UDID: device.udid, Topic: topic, DeviceName: 'Zoë’s iPhone ✓ 日本語', OSVersion: '18.1' }) },
      { what: 'TokenUpdate, CRLF line endings', body: Buffer.from(applePlist({ MessageType: 'TokenUpdate', UDID: device.udid, Topic: topic, Token: device.token, PushMagic: device.pushMagic }).toString('utf8').replace(/\n/g, '\r\n')) },
      { what: 'TokenUpdate, chunked in 7-byte pieces', body: applePlist({ MessageType: 'TokenUpdate', UDID: device.udid, Topic: topic, Token: device.token, PushMagic: device.pushMagic }), chunked: true },
      { what: 'Idle, tabs and a trailing newline run', body: Buffer.from(plist.build({ UDID: device.udid, Status: 'Idle' }).replace(/ {2}/g, '\t') + '\n\n\n') },
      { what: 'TokenUpdate padded to 300 KB', body: applePlist({ MessageType: 'TokenUpdate', UDID: device.udid, Topic: topic, Token: device.token, PushMagic: device.pushMagic, Padding: 'x'.repeat(300_000) }) },
    ];
    const statuses: string[] = [];
    for (const b of bodies) {
      const contentType = b.what.startsWith('Idle') ? COMMAND : CHECKIN;
      const r = await device.send(b.body, contentType, { chunked: b.chunked === true });
      statuses.push(`${b.what}: ${r.status}`);
    }
    expect(statuses).toEqual(bodies.map((b) => `${b.what}: 200`));
  });

  it('the control: a body changed by one byte under its original signature is refused by NanoMDM (400)', async () => {
    // Without this, "NanoMDM accepted it" would not show that NanoMDM checks the bytes at all.
    const lab = await newLab({ mode: 'signature' });
    const device = lab.device();
    await device.enrol();
    const signed = applePlist({ MessageType: 'TokenUpdate', UDID: device.udid, Topic: lab.pushCert.topic, Token: device.token, PushMagic: device.pushMagic });
    const changed = Buffer.from(signed);
    changed[changed.indexOf('PushMagic') + 1] ^= 0x20; // PushMagic → PUshMagic
    expect((await device.send(changed, CHECKIN, { signatureOver: signed })).status).toBe(400);
    expect((await device.send(signed, CHECKIN)).status).toBe(200);
  });

  it('NanoMDM refuses identities it cannot verify with 400 and a valid identity bound to another enrolment with 500', async () => {
    const lab = await newLab({ mode: 'signature' });
    const enrolled = lab.device();
    await enrolled.enrol();
    const topic = lab.pushCert.topic;
    const foreign = lab.device({ identity: makeDeviceCa().issue('not from the device CA') });
    const unsigned = lab.device({ identity: null });
    const impostor = lab.device({ udid: enrolled.udid }); // a valid identity, but not the one bound to this UDID
    expect({
      foreignCa: (await foreign.checkin('Authenticate', { Topic: topic })).status,
      noSignature: (await unsigned.checkin('Authenticate', { Topic: topic })).status,
      otherCertReport: (await impostor.report('Idle')).status,
      otherCertTokenUpdate: (await impostor.checkin('TokenUpdate', { Topic: topic, Token: impostor.token, PushMagic: impostor.pushMagic })).status,
      notEnrolledReport: (await lab.device().report('Idle')).status,
    }).toEqual({ foreignCa: 400, noSignature: 400, otherCertReport: 500, otherCertTokenUpdate: 500, notEnrolledReport: 500 });
    // NanoMDM treats a new Authenticate as a new enrolment: another valid identity takes the UDID over, and the
    // first device's identity is refused from then on.
    expect((await impostor.checkin('Authenticate', { Topic: topic })).status).toBe(200);
    expect((await enrolled.report('Idle')).status).toBe(500);
  });

  it('a report NanoMDM refuses (400) is no NotNow fault: the session is interrupted as rejected and no push is owed', async () => {
    const lab = await newLab({ mode: 'signature', mdmtapArgs: ['--session-timeout', '5s'] });
    const device = lab.device();
    await device.enrol();
    const idle = applePlist({ Status: 'Idle', UDID: device.udid });
    const stale = applePlist({ Status: 'Idle', UDID: device.udid, Extra: 'signed, then removed' });
    expect((await device.send(idle, COMMAND, { signatureOver: stale })).status).toBe(400);

    await lab.mdmtap.waitEvent((e) => e.type === 'session' && e.event === 'end', 'session end', 15_000);
    expect(await lab.stopMdmtap()).toBe(0);
    const events = lab.mdmtap.events();
    expect(sessionEnds(events).map((e) => ({ outcome: e.outcome, reason: e.reason }))).toEqual([{ outcome: 'interrupted', reason: 'rejected' }]);
    expect(obligations(events).filter((o) => o.event === 'open')).toEqual([]);
    expect(warnings(events).filter((w) => w.severity === 'warning')).toEqual([]);
  });
});
