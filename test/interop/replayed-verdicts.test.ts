/**
 * The same capture gives the same verdicts however it is read: what mdmtap concluded live in front of NanoMDM,
 * what `mdmtap analyze` concludes from its SQLite capture, and from the HAR export of that capture.
 */
import { expect, it } from 'vitest';
import { join } from 'node:path';
import { labPerTest } from './helpers/lab-per-test.js';
import { command } from './helpers/commands.js';
import { transcript } from './helpers/transcript.js';
import { verdicts } from './helpers/verdicts.js';
import { runCli } from '../helpers/cli.js';
import type { Answer } from './helpers/device.js';
import type { AnalyzerEvent } from '../../src/model/events.js';

const newLab = labPerTest();

/** Answers in the order given, then Acknowledged. */
const script = (...answers: Array<Answer['status']>) => {
  let i = 0;
  return (): Answer => ({ status: answers[i++] ?? 'Acknowledged' });
};

async function analyze(file: string): Promise<AnalyzerEvent[]> {
  const r = await runCli(['analyze', file, '--json'], { timeoutMs: 30_000 });
  // 0: no warning, 1: warnings raised; anything else is a failure to read the capture.
  expect(r.code === 0 || r.code === 1, `analyze ${file} exited ${r.code}: ${r.stderr}`).toBe(true);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AnalyzerEvent);
}

it('live verdicts = analyze of the SQLite capture = analyze of its HAR export', async () => {
  // Not the defaults, so a replay that does not use what the capture was recorded with gives other verdicts.
  const lab = await newLab({ mode: 'signature', mdmtapArgs: ['--push-grace', '3s', '--session-timeout', '20s'] });
  const { nanomdm } = lab;
  const twoCommands = async () => {
    const d = lab.device();
    await d.enrol();
    await nanomdm.enqueue([d.udid], command('SecurityInfo'));
    await nanomdm.enqueue([d.udid], command('CertificateList'));
    return d;
  };
  // NanoMDM's filekv defect: the refused command is re-offered and refused again, the acknowledged one is sent
  // again, and the session ends on Acknowledged with the refused command dropped from the queue.
  const DEFECT = 'Idle→A, NotNow(A)→B, Acknowledged(B)→A, NotNow(A)→B, Acknowledged(B)→end';

  // 1. Ends on NotNow, then polls again and completes the command.
  const polite = lab.device();
  await polite.enrol();
  await nanomdm.enqueue([polite.udid], command('SecurityInfo'));
  expect(transcript(await polite.session(script('NotNow'))).line).toBe('Idle→A, NotNow(A)→end');
  expect(transcript(await polite.session(script('Acknowledged'))).line).toBe('Idle→A, Acknowledged(A)→end');

  // 2. The defect, then a push in time; the device's next session gets nothing.
  const pushed = await twoCommands();
  expect(transcript(await pushed.session(script('NotNow', 'Acknowledged', 'NotNow'))).line).toBe(DEFECT);
  expect((await nanomdm.push([pushed.udid])).status).toBe(200);
  await lab.mdmtap.waitEvent((e) => e.type === 'push' && e.udid === pushed.udid, 'push event');
  expect(transcript(await pushed.session(script())).line).toBe('Idle→end');

  // 3. Refused, then acknowledged when re-offered (and the acknowledged command delivered again).
  const recovered = await twoCommands();
  expect(transcript(await recovered.session(script('NotNow'))).line).toBe('Idle→A, NotNow(A)→B, Acknowledged(B)→A, Acknowledged(A)→B, Acknowledged(B)→end');

  // 4. The defect and no push: the push grace runs out while mdmtap watches.
  const forgotten = await twoCommands();
  expect(transcript(await forgotten.session(script('NotNow', 'Acknowledged', 'NotNow'))).line).toBe(DEFECT);
  await lab.mdmtap.waitEvent((e) => e.type === 'warning' && e.rule === 'notnow-no-push' && e.udid === forgotten.udid, 'notnow-no-push warning', 15_000);

  expect(await lab.stopMdmtap()).toBe(0);
  const live = verdicts(lab.mdmtap.events());
  // Not a vacuous comparison: sessions judged, a push that came in time, a push that never came.
  expect(live.sessions).toHaveLength(6);
  expect(live.obligations.some((o) => o.endsWith('discharged by push'))).toBe(true);
  expect(live.warnings.some((w) => w.startsWith('notnow-no-push '))).toBe(true);

  const har = join(lab.dir, 'capture.har');
  const exported = await runCli(['export', lab.db, '--format', 'har', '-o', har], { timeoutMs: 30_000 });
  expect(exported.code, exported.stderr).toBe(0);

  const fromSqlite = verdicts(await analyze(lab.db));
  const fromHar = verdicts(await analyze(har));
  expect({ sqlite: fromSqlite, har: fromHar }).toEqual({ sqlite: live, har: live });
});
