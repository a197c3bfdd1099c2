/**
 * Captures far larger than the analyzing process's heap: a generated HAR of ~150 MB and a SQLite capture of
 * 60,000 exchanges, analysed by the real CLI in a child process whose V8 heap is capped at 72 MB. Whole-file
 * loading cannot pass this; streaming must, with exactly the verdicts the generator planned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI } from '../helpers/cli.js';
import { expectedVerdicts, writeHar, writeSqlite, type CapturePlan } from '../../bench/capture-gen.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdmtap-streaming-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function analyzeSmallHeap(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=72', CLI, 'analyze', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function summary(p: CapturePlan): RegExp {
  const v = expectedVerdicts(p);
  return new RegExp(
    `Summary: ${p.devices} device channels, ${v.exchanges} MDM exchanges, ${v.sessions.stranded + v.sessions.clean} sessions \\(${v.sessions.stranded} stranded, ${v.sessions.clean} clean\\)\\.\\n` +
      `${v.warnings} warnings, 0 info \\(notnow-no-push ×${v.warnings}\\)`,
  );
}

describe('streaming analysis', () => {
  it('a 150 MB HAR through a 72 MB heap gives the planned verdicts', async () => {
    const plan: CapturePlan = { devices: 300, rounds: 40, appListBytes: 20_000 };
    const file = join(dir, 'big.har');
    await writeHar(file, plan);
    expect(statSync(file).size).toBeGreaterThan(140 * 1024 * 1024);
    const r = await analyzeSmallHeap(file);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(summary(plan));
  }, 120_000);

  it('a SQLite capture of 60,000 exchanges through a 72 MB heap gives the planned verdicts', async () => {
    const plan: CapturePlan = { devices: 600, rounds: 40, appListBytes: 4_000 };
    const file = join(dir, 'big.sqlite');
    writeSqlite(file, plan);
    const r = await analyzeSmallHeap(file);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(summary(plan));
  }, 120_000);
});
