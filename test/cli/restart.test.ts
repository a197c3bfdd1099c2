/**
 * The capture across a crash: a real mdmtap child process records a stranded session, is killed with SIGKILL, and
 * restarts on the same file. The file must pass an integrity check and the push still owed must be judged at its
 * original deadline. Readers (analyze, view, export) work on the file while the proxy writes it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, startCli, type Running } from '../helpers/cli.js';
import { tempDir } from '../helpers/tls-peers.js';
import { startReferenceServer, type ReferenceServer } from '../../src/sim/server.js';
import { strandOneSession } from '../helpers/stranded.js';

const dirs: Array<{ remove(): void }> = [];
const procs: Running[] = [];
let server: ReferenceServer | undefined;
afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await server?.close();
  for (const d of dirs) d.remove();
});

/** Polls the capture (read-only, as an auditor would) until the query counts a row; bounded. */
async function untilInFile(file: string, sql: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const d = new Database(file, { readonly: true, fileMustExist: true });
      const n = (d.prepare(sql).get() as { n: number }).n;
      d.close();
      if (n > 0) return;
    } catch {
      // not created yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing matched ${sql} in ${file}`);
}

describe('capture across a kill -9', () => {
  it('stays readable and the obligation fires at its original deadline after a restart', async () => {
    const work = tempDir('mdmtap-restart-');
    dirs.push(work);
    server = await startReferenceServer({ policy: 'keep-going' });
    const caFile = join(work.dir, 'server-ca.pem');
    writeFileSync(caFile, server.ca);
    const db = join(work.dir, 'capture.sqlite');
    const args = ['start', '--json', '--host', '127.0.0.1', '--port', '0', '--mdm-host', `127.0.0.1:${server.port}`, '--upstream-ca', caFile, '--certs', join(work.dir, 'certs'), '--db', db, '--push-grace', '4s'];

    const first = startCli(args);
    procs.push(first);
    const port = Number((await first.waitStderr(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const device = await strandOneSession(server, port, join(work.dir, 'certs'), 5);
    const open = JSON.parse((await first.waitStdout(/\{"type":"obligation","ts":[^\n]*"event":"open"[^\n]*\n/))[0]);
    // Once the writer's batch holding the obligation is in the file, crash hard.
    await untilInFile(db, `SELECT count(*) AS n FROM obligations`);
    first.child.kill('SIGKILL');
    await first.exited;

    const raw = new Database(db);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    expect((raw.prepare(`SELECT count(*) AS n FROM exchanges`).get() as { n: number }).n).toBeGreaterThanOrEqual(5);
    expect(raw.prepare(`SELECT state, deadline FROM obligations`).all()).toEqual([{ state: 'open', deadline: open.deadline }]);
    raw.close();

    // The second run with another grace: what the first opened keeps its deadline, a replay judges each run with its own.
    const second = startCli([...args, '--push-grace', '5s']);
    procs.push(second);
    await second.waitStderr(/restored from the capture: 1 push tokens, 1 open push obligations/);
    const warning = JSON.parse((await second.waitStdout(/\{"type":"warning"[^\n]*\n/))[0]);
    expect(warning).toMatchObject({ rule: 'notnow-no-push', sessionId: open.sessionId, udid: device.udid });
    // Judged at the deadline set before the crash, not at restart time + grace.
    expect(warning.ts).toBe(open.deadline);

    // Readers work while the restarted proxy holds the file.
    const analyzed = await runCli(['analyze', db]);
    expect(analyzed.stdout).toContain('stranded');
    // Without --push-grace, a SQLite capture is judged with the grace each run was recorded with, as live.
    expect(analyzed.stdout).toMatch(/push grace 4s \(5s from \S+: runs started with another\)/);
    expect(analyzed.stdout).toContain('notnow-no-push');
    const view = await runCli(['view', db]);
    expect(view.code).toBe(0);
    expect(view.stdout).toContain('notnow-no-push');
    expect(view.stdout).toMatch(/push grace 4s \(5s from \S+: runs started with another\)/);
    const overridden = await runCli(['analyze', db, '--push-grace', '1h']);
    expect(overridden.stdout).toContain('push grace 1h;');
    const har = join(work.dir, 'export.har');
    const exported = await runCli(['export', db, '--format', 'har', '-o', har]);
    expect(exported.code).toBe(0);
    // The HAR export carries the runs too: read without options it is judged as the SQLite file is.
    const harReport = await runCli(['analyze', har]);
    expect(harReport.stdout).toMatch(/push grace 4s \(5s from \S+: runs started with another\)/);
    const fromHar = await runCli(['analyze', har, '--json', '--push-grace', '4s']);
    const fromDb = await runCli(['analyze', db, '--json', '--push-grace', '4s']);
    const sessions = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'session' && e.event === 'end').map((e) => e.outcome);
    expect(sessions(fromHar.stdout)).toEqual(sessions(fromDb.stdout));
    expect(sessions(fromDb.stdout)).toContain('stranded');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});

describe('export and view: bad input', () => {
  it('one line and a non-zero exit for a missing file, a non-capture and a bad format', async () => {
    const work = tempDir();
    dirs.push(work);
    const notDb = join(work.dir, 'x.sqlite');
    writeFileSync(notDb, 'hello');
    for (const args of [['export', join(work.dir, 'missing.sqlite'), '--format', 'har'], ['export', notDb, '--format', 'csv'], ['view', notDb], ['export', notDb, '--format', 'xml']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
