/**
 * mdmtap restarted on the same capture in front of the real NanoMDM: what the second run judges, and what a replay
 * of the whole capture judges, must be what the two runs judged live.
 */
import { expect, it } from 'vitest';
import { join } from 'node:path';
import { labPerTest } from './helpers/lab-per-test.js';
import { command } from './helpers/commands.js';
import { transcript } from './helpers/transcript.js';
import { verdicts, warnings } from './helpers/verdicts.js';
import { runCli } from '../helpers/cli.js';
import type { Answer } from './helpers/device.js';
import type { Lab } from './helpers/lab.js';
import type { AnalyzerEvent } from '../../src/model/events.js';

const newLab = labPerTest();

const script = (...answers: Array<Answer['status']>) => {
  let i = 0;
  return (): Answer => ({ status: answers[i++] ?? 'Acknowledged' });
};

async function analyze(file: string): Promise<AnalyzerEvent[]> {
  const r = await runCli(['analyze', file, '--json', '--quiet'], { timeoutMs: 30_000 });
  expect(r.code === 0 || r.code === 1, `analyze ${file} exited ${r.code}: ${r.stderr}`).toBe(true);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AnalyzerEvent);
}

/** The capture read back as SQLite, and as its JSON-lines and HAR exports. */
async function replays(lab: Lab, formats: Array<'jsonl' | 'har'>): Promise<Record<string, AnalyzerEvent[]>> {
  const out: Record<string, AnalyzerEvent[]> = { sqlite: await analyze(lab.db) };
  for (const f of formats) {
    const file = join(lab.dir, `capture.${f}`);
    const r = await runCli(['export', lab.db, '--format', f, '-o', file, '--quiet'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    out[f] = await analyze(file);
  }
  return out;
}

/** NanoMDM's filekv defect: the session ends on Acknowledged with the refused command dropped, so a push is owed. */
async function stranded(lab: Lab) {
  const d = lab.device();
  await d.enrol();
  await lab.nanomdm.enqueue([d.udid], command('SecurityInfo'));
  await lab.nanomdm.enqueue([d.udid], command('CertificateList'));
  expect(transcript(await d.session(script('NotNow', 'Acknowledged', 'NotNow'))).line).toBe('Idle→A, NotNow(A)→B, Acknowledged(B)→A, NotNow(A)→B, Acknowledged(B)→end');
  return d;
}

it('each run is judged with the settings it was started with, live and in replays of the capture', async () => {
  const lab = await newLab({ mode: 'signature', mdmtapArgs: ['--push-grace', '60s'] });
  const first = await stranded(lab);
  await lab.restartMdmtap(['--push-grace', '2s']);
  // The second run's own stranded session: never pushed, so it is warned after the second run's 2 s.
  const second = await stranded(lab);
  await lab.mdmtap.waitEvent((e) => e.type === 'warning' && e.rule === 'notnow-no-push' && e.udid === second.udid, 'the second run’s warning', 15_000);
  // The first run's obligation was opened with 60 s: a push now (seconds later) is in time.
  expect((await lab.nanomdm.push([first.udid])).status).toBe(200);
  await lab.mdmtap.waitEvent((e) => e.type === 'push' && e.udid === first.udid, 'the push');
  expect(await lab.stopMdmtap()).toBe(0);

  const live = verdicts(lab.mdmtap.events());
  // (command-redelivered is raised too, rightly: the filekv queue sends the acknowledged command again.)
  const byDevice = (evs: AnalyzerEvent[]) =>
    warnings(evs)
      .filter((w) => w.rule === 'notnow-no-push')
      .map((w) => `${w.rule} ${w.udid === first.udid ? 'first' : w.udid === second.udid ? 'second' : w.udid}`);
  expect(byDevice(lab.mdmtap.events())).toEqual(['notnow-no-push second']);
  const r = await replays(lab, ['jsonl', 'har']);
  const want = ['notnow-no-push second'];
  expect({ sqlite: byDevice(r.sqlite), jsonl: byDevice(r.jsonl), har: byDevice(r.har) }).toEqual({ sqlite: want, jsonl: want, har: want });
  expect({ sqlite: verdicts(r.sqlite), jsonl: verdicts(r.jsonl), har: verdicts(r.har) }).toEqual({ sqlite: live, jsonl: live, har: live });
  // The replay's stream says where the judging changed, as the live streams did.
  const starts = (evs: AnalyzerEvent[]) => evs.filter((e) => e.type === 'capture' && e.event === 'start').map((e) => (e as { pushGraceMs: number }).pushGraceMs);
  expect({ sqlite: starts(r.sqlite), har: starts(r.har) }).toEqual({ sqlite: [60_000, 2_000], har: [60_000, 2_000] });
});

it('a push to an enrollment that checked out is recognised after a restart too', async () => {
  const lab = await newLab({ mode: 'signature' });
  const d = lab.device();
  await d.enrol();
  expect((await d.checkin('CheckOut', { Topic: lab.pushCert.topic })).status).toBe(200);
  // NanoMDM still pushes to it.
  expect((await lab.nanomdm.push([d.udid])).status).toBe(200);
  await lab.mdmtap.waitEvent((e) => e.type === 'push', 'the first push');
  await lab.restartMdmtap();
  expect((await lab.nanomdm.push([d.udid])).status).toBe(200);
  await lab.mdmtap.waitUntil((all) => all.filter((e) => e.type === 'push').length === 2, 'the second push');
  expect(await lab.stopMdmtap()).toBe(0);

  const events = lab.mdmtap.events();
  // Both pushes carry the device's identity: recognised, waking nothing, raising nothing.
  expect(events.filter((e) => e.type === 'push').map((e) => e.udid)).toEqual([d.udid, d.udid]);
  expect(warnings(events)).toEqual([]);
  const r = await replays(lab, ['jsonl', 'har']);
  expect({ sqlite: warnings(r.sqlite), jsonl: warnings(r.jsonl), har: warnings(r.har) }).toEqual({ sqlite: [], jsonl: [], har: [] });
});
