/**
 * Captures at scale: `mdmtap analyze` of a generated 2 GB HAR and of a 5,000,000-exchange SQLite capture, each
 * in a child process as users run it (with the heap cap analyze gives itself for large inputs), its peak RSS
 * read from the kernel. The generator (capture-gen.ts) is part of the bench, so anyone can reproduce the files;
 * MDMTAP_BENCH_SCALE=0.1 runs a tenth of the size.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectedVerdicts, writeHar, writeSqlite, type CapturePlan } from './capture-gen.js';
import { CAP_MB } from '../src/cli/heap-cap.js';

export interface ScaleFigure {
  capture: string;
  bytes: number;
  exchanges: number;
  generateSeconds: number;
  analyzeSeconds: number;
  exchangesPerSecond: number;
  mbPerSecond: number;
  peakRssMB: number;
  /** The report's summary agreed with what the generator planned. */
  verdictsAsPlanned: boolean;
}

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Runs `mdmtap analyze FILE`, sampling the child's peak RSS (VmHWM) until it exits. */
async function analyze(file: string): Promise<{ seconds: number; peakRssMB: number; stdout: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [`--max-old-space-size=${CAP_MB}`, CLI, 'analyze', file, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // the process has just exited
    }
  };
  const timer = setInterval(sample, 100);
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  clearInterval(timer);
  return { seconds: (performance.now() - t0) / 1000, peakRssMB: peak, stdout };
}

function plannedSummary(p: CapturePlan, stdout: string): boolean {
  const v = expectedVerdicts(p);
  return stdout.includes(`${v.exchanges} MDM exchanges, ${v.sessions.stranded + v.sessions.clean} sessions (${v.sessions.stranded} stranded, ${v.sessions.clean} clean)`);
}

export async function benchScale(log: (s: string) => void = () => {}): Promise<ScaleFigure[]> {
  const scale = Number(process.env.MDMTAP_BENCH_SCALE ?? '1') || 1;
  const dir = mkdtempSync(join(tmpdir(), 'mdmtap-bench-scale-'));
  const out: ScaleFigure[] = [];
  try {
    // ~25 KB per stranded round pair of entries: 2,000 devices × 80 rounds is 2 GB.
    const harPlan: CapturePlan = { devices: 2000, rounds: Math.max(2, Math.round(80 * scale)), appListBytes: 20_000 };
    const har = join(dir, 'fleet.har');
    let t = performance.now();
    log(`  generating a ${(2 * scale).toFixed(1)} GB HAR …\n`);
    await writeHar(har, harPlan);
    const harGen = (performance.now() - t) / 1000;
    log('  analyze of the HAR …\n');
    const a = await analyze(har);
    const harBytes = statSync(har).size;
    const harExchanges = expectedVerdicts(harPlan).exchanges;
    out.push({
      capture: 'HAR', bytes: harBytes, exchanges: harExchanges, generateSeconds: harGen, analyzeSeconds: a.seconds,
      exchangesPerSecond: harExchanges / a.seconds, mbPerSecond: harBytes / 1048576 / a.seconds, peakRssMB: a.peakRssMB, verdictsAsPlanned: plannedSummary(harPlan, a.stdout),
    });
    rmSync(har);

    // 5,000 devices × 400 rounds × 2.5 exchanges = 5,000,000 exchanges (bodies with a small app list).
    const dbPlan: CapturePlan = { devices: 5000, rounds: Math.max(2, Math.round(400 * scale)), appListBytes: 2_000 };
    const db = join(dir, 'fleet.sqlite');
    t = performance.now();
    log(`  generating a ${(5 * scale).toFixed(1)}M-exchange SQLite capture …\n`);
    writeSqlite(db, dbPlan);
    const dbGen = (performance.now() - t) / 1000;
    log('  analyze of the SQLite capture …\n');
    const b = await analyze(db);
    const dbBytes = statSync(db).size;
    const dbExchanges = expectedVerdicts(dbPlan).exchanges;
    out.push({
      capture: 'SQLite', bytes: dbBytes, exchanges: dbExchanges, generateSeconds: dbGen, analyzeSeconds: b.seconds,
      exchangesPerSecond: dbExchanges / b.seconds, mbPerSecond: dbBytes / 1048576 / b.seconds, peakRssMB: b.peakRssMB, verdictsAsPlanned: plannedSummary(dbPlan, b.stdout),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
