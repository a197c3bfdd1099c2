/**
 * What the real NanoMDM and a device rightly do must raise nothing: a busy device refusing queued commands over
 * several sessions, NanoMDM re-offering a refused command after completing others, an enrollment that starts over
 * after a refusal. Each raised a warning before a review found it; live and `analyze` of the capture are both held
 * to silence.
 */
import { describe, expect, it } from 'vitest';
import { labPerTest } from './helpers/lab-per-test.js';
import { command } from './helpers/commands.js';
import { transcript } from './helpers/transcript.js';
import { warnings } from './helpers/verdicts.js';
import type { Answer } from './helpers/device.js';
import type { Lab } from './helpers/lab.js';
import type { AnalyzerEvent } from '../../src/model/events.js';
import { runCli } from '../helpers/cli.js';

const newLab = labPerTest();

async function silentLiveAndReplayed(lab: Lab): Promise<void> {
  expect(await lab.stopMdmtap()).toBe(0);
  expect(warnings(lab.mdmtap.events()).map((w) => w.rule)).toEqual([]);
  const r = await runCli(['analyze', lab.db, '--json'], { timeoutMs: 30_000 });
  const replayed = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as AnalyzerEvent);
  expect(warnings(replayed).map((w) => w.rule)).toEqual([]);
}

describe('no warning for what NanoMDM and the device rightly do', () => {
  it('a busy device refuses two queued commands, then one again in a session that ends on NotNow, then takes both', async () => {
    const lab = await newLab({ mode: 'signature' });
    const d = lab.device();
    await d.enrol();
    await lab.nanomdm.enqueue([d.udid], command('SecurityInfo'));
    await lab.nanomdm.enqueue([d.udid], command('CertificateList'));
    expect(transcript(await d.session(() => ({ status: 'NotNow' }))).line).toBe('Idle→A, NotNow(A)→B, NotNow(B)→end');
    expect(transcript(await d.session(() => ({ status: 'NotNow' }))).line).toBe('Idle→A, NotNow(A)→end');
    const last = transcript(await d.session(() => ({ status: 'Acknowledged' })));
    expect(last.names.size).toBe(2);
    await silentLiveAndReplayed(lab);
  });

  it('NanoMDM re-offers a refused command after each command the device completes (file storage)', async () => {
    const lab = await newLab({ mode: 'signature', storage: 'file' });
    const d = lab.device();
    await d.enrol();
    // None of them one iOS never answers NotNow to (that is an info of its own); the file queue's order varies.
    for (const rt of ['SecurityInfo', 'CertificateList', 'AvailableOSUpdates', 'ManagedApplicationList']) await lab.nanomdm.enqueue([d.udid], command(rt));
    let first: string | undefined;
    const t = transcript(
      await d.session((cmd): Answer => {
        first ??= cmd.uuid;
        return { status: cmd.uuid === first ? 'NotNow' : 'Acknowledged' };
      }),
    );
    // The refused command comes back after every completed one: three refusals in one session, and no storm.
    expect(t.line.match(/NotNow\(A\)/g)?.length).toBeGreaterThanOrEqual(3);
    await silentLiveAndReplayed(lab);
  });

  it('a refused command is not owed to an enrollment that started over (Authenticate; CheckOut first or not)', async () => {
    const lab = await newLab({ mode: 'signature' });
    for (const checkout of [true, false]) {
      const d = lab.device();
      await d.enrol();
      await lab.nanomdm.enqueue([d.udid], command('SecurityInfo'));
      expect(transcript(await d.session(() => ({ status: 'NotNow' }))).line).toBe('Idle→A, NotNow(A)→end');
      if (checkout) await d.checkin('CheckOut', { Topic: lab.pushCert.topic });
      await d.enrol();
      // NanoMDM cleared its queue on Authenticate: the next session has nothing for the device.
      expect(transcript(await d.session(() => ({ status: 'Acknowledged' }))).line).toBe('Idle→end');
    }
    await silentLiveAndReplayed(lab);
  });
});
