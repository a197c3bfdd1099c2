/**
 * A capture gives the same verdicts in every format: the live stream of a real `mdmtap demo` run (real proxy,
 * reference servers, simulated fleet and APNs, real SQLite file), `mdmtap analyze` of that SQLite capture, of its
 * HAR export and of its JSON-lines export.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdmtap-formats-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Ev = Record<string, unknown> & { type: string };

const parse = (text: string): Ev[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Ev);

/** What an auditor would file: how each session ended, each warning and its resolution, each push owed. */
function verdicts(events: Ev[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.type === 'session' && e.event !== 'start') out.push(`session ${e.sessionId} ${e.event} ${e.outcome ?? ''} ${e.reason ?? ''}`);
    else if (e.type === 'warning') out.push(`warning ${e.warningId} ${e.rule} ${e.sessionId ?? ''}`);
    else if (e.type === 'resolved') out.push(`resolved ${e.warningId} ${e.by}`);
    else if (e.type === 'obligation') out.push(`obligation ${e.sessionId} ${e.event} ${e.by ?? ''}`);
    else if (e.type === 'ddm') out.push(`ddm ${e.exchangeId} ${e.event} ${e.declarationsToken ?? ''} ${((e.declarations ?? []) as Array<{ identifier: string; valid: string }>).map((d) => `${d.identifier}:${d.valid}`).join(',')}`);
  }
  return out.sort();
}

describe('one capture, the same verdicts as SQLite, HAR and JSON lines', () => {
  it('a demo run: live = analyze(SQLite) = analyze(HAR export) = analyze(JSONL export)', async () => {
    const db = join(dir, 'demo.sqlite');
    const demo = startCli(['demo', '--json', '--devices', '12', '--push-grace', '3s', '--db', db]);
    await demo.waitStderr(/mdmtap demo on/);
    // Long enough for every kind of session and for push deadlines to pass.
    await demo.waitStdout(/"rule":"notnow-no-push"/);
    // DDM too: syncs, a status report and the declaration it marks invalid, in every format.
    await demo.waitStdout(/"rule":"ddm-declaration-invalid"/);
    await new Promise((r) => setTimeout(r, 2000));
    demo.child.kill('SIGTERM');
    expect(await demo.exited).toBe(0);
    const live = parse(demo.stdout());
    expect(live[0]).toMatchObject({ type: 'capture', event: 'start', pushGraceMs: 3000 });
    expect(live.at(-1)).toMatchObject({ type: 'capture', event: 'stop' });
    const outcomes = new Set(live.filter((e) => e.type === 'session' && e.event === 'end').map((e) => e.outcome));
    for (const o of ['stranded', 'ended-on-notnow', 'clean']) expect(outcomes, `the demo shows ${o}`).toContain(o);

    const fromSqlite = await runCli(['analyze', db, '--json']);
    expect(fromSqlite.stderr).toBe('');
    const har = join(dir, 'demo.har');
    const jsonl = join(dir, 'demo.jsonl');
    expect((await runCli(['export', db, '--format', 'har', '-o', har])).code).toBe(0);
    expect((await runCli(['export', db, '--format', 'jsonl', '-o', jsonl])).code).toBe(0);
    // The capture and what is exported from it are the owner's only.
    for (const f of [db, har, jsonl]) expect(statSync(f).mode & 0o777, f).toBe(0o600);
    const fromHar = await runCli(['analyze', har, '--json']);
    const fromJsonl = await runCli(['analyze', jsonl, '--json']);
    const expected = verdicts(live);
    expect(expected.length).toBeGreaterThan(20);
    expect(verdicts(parse(fromSqlite.stdout))).toEqual(expected);
    expect(verdicts(parse(fromHar.stdout))).toEqual(expected);
    expect(verdicts(parse(fromJsonl.stdout))).toEqual(expected);
    // A capture analysed together with its own exports: every exchange counted once, the same verdicts.
    const together = await runCli(['analyze', db, har, jsonl, '--json']);
    expect(verdicts(parse(together.stdout))).toEqual(expected);
    expect(together.stderr).toMatch(/^mdmtap: \d+ exchanges and pushes held by more than one input were counted once\n$/);
    const report = await runCli(['analyze', db, har]);
    expect(report.stdout).toMatch(/\d+ exchanges? and pushes held by more than one input were counted once/);
    // And all of them say what they were judged with.
    for (const r of [fromSqlite, fromHar, fromJsonl]) expect(parse(r.stdout)[0]).toMatchObject({ type: 'capture', pushGraceMs: 3000 });
  }, 60_000);
});
