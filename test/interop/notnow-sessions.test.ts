/**
 * NotNow against the real NanoMDM, in both device-identity modes: what its queue really sends after a refusal,
 * and what mdmtap concludes from it. NanoMDM's reply to a NotNow skips the refused commands; after any other
 * status it offers them again in the same session. Neither way is a push owed, so neither session may raise a
 * NotNow fault. (Its filekv queue also sends an acknowledged command again after a re-offer: that is a fault of
 * its own, and the only one.)
 */
import { describe, expect, it } from 'vitest';
import { labPerTest } from './helpers/lab-per-test.js';
import { command } from './helpers/commands.js';
import { transcript } from './helpers/transcript.js';
import { obligations, sessionEnds, warnings } from './helpers/verdicts.js';
import type { Lab } from './helpers/lab.js';
import type { Answer, TestDevice } from './helpers/device.js';

const newLab = labPerTest();

/** Everything mdmtap concluded about `device`, read after mdmtap stopped (so nothing is still on its way). */
async function conclusions(lab: Lab, device: TestDevice) {
  expect(await lab.stopMdmtap()).toBe(0);
  const events = lab.mdmtap.events().filter((e) => !('udid' in e) || e.udid === device.udid);
  return {
    ends: sessionEnds(events),
    opened: obligations(events).filter((o) => o.event === 'open'),
    faults: warnings(events).filter((w) => w.severity === 'warning'),
  };
}

/** The device's script: NotNow to the first command it is offered, the first time only; Acknowledged to all else. */
function refuseFirstOfferOnce(): (cmd: { uuid: string }) => Answer {
  let refused: string | undefined;
  return (cmd) => {
    if (refused === undefined) {
      refused = cmd.uuid;
      return { status: 'NotNow' };
    }
    return { status: 'Acknowledged' };
  };
}

describe.each(['signature', 'tls'] as const)('identity by %s', (mode) => {
  it('a command refused with NotNow, then the session ends on that NotNow: ended-on-notnow, quiet', async () => {
    const lab = await newLab({ mode });
    const device = lab.device();
    await device.enrol();
    await lab.nanomdm.enqueue([device.udid], command('SecurityInfo'));

    const t = transcript(await device.session(() => ({ status: 'NotNow' })));
    // NanoMDM's reply to a NotNow skips the refused command: the queue has nothing else, so the session ends.
    expect(t.line).toBe('Idle→A, NotNow(A)→end');

    const c = await conclusions(lab, device);
    expect(c.ends).toHaveLength(1);
    expect(c.ends[0]).toMatchObject({ outcome: 'ended-on-notnow', lastStatus: 'NotNow', notNowCommands: [t.uuidOf('A')] });
    expect(c.faults).toEqual([]);
    expect(c.opened).toEqual([]);
  });

  it('filekv: a refused command acknowledged when re-offered is recovered; the command NanoMDM delivers again is its own finding', async () => {
    const lab = await newLab({ mode });
    const device = lab.device();
    await device.enrol();
    await lab.nanomdm.enqueue([device.udid], command('SecurityInfo'));
    await lab.nanomdm.enqueue([device.udid], command('CertificateList'));

    const t = transcript(await device.session(refuseFirstOfferOnce()));
    // What NanoMDM's filekv queue really does (v0.9.0-14): it re-offers A after B's Acknowledged, and once A is
    // acknowledged it sends B again although B already had its final status (its queue_ll unlink defect).
    expect(t.line).toBe('Idle→A, NotNow(A)→B, Acknowledged(B)→A, Acknowledged(A)→B, Acknowledged(B)→end');

    const c = await conclusions(lab, device);
    expect(c.ends).toHaveLength(1);
    // Every refused command reached a final status in the session: nothing is stranded, no push is owed.
    expect(c.ends[0]).toMatchObject({ outcome: 'recovered', lastStatus: 'Acknowledged' });
    expect(c.opened).toEqual([]);
    // The only fault is the server's: B delivered again after its final status.
    expect(c.faults.map((w) => ({ rule: w.rule, commandUUIDs: w.commandUUIDs }))).toEqual([{ rule: 'command-redelivered', commandUUIDs: [t.uuidOf('B')] }]);
  });

  it('file storage: a refused command acknowledged when re-offered is recovered, quiet', async () => {
    // NanoMDM's deprecated `file` queue re-offers without the filekv defect: the session the protocol intends.
    const lab = await newLab({ mode, storage: 'file' });
    const device = lab.device();
    await device.enrol();
    await lab.nanomdm.enqueue([device.udid], command('SecurityInfo'));
    await lab.nanomdm.enqueue([device.udid], command('CertificateList'));

    const t = transcript(await device.session(refuseFirstOfferOnce()));
    expect(t.line).toBe('Idle→A, NotNow(A)→B, Acknowledged(B)→A, Acknowledged(A)→end');

    const c = await conclusions(lab, device);
    expect(c.ends).toHaveLength(1);
    expect(c.ends[0]).toMatchObject({ outcome: 'recovered', lastStatus: 'Acknowledged' });
    expect(c.faults).toEqual([]);
    expect(c.opened).toEqual([]);
  });
});
