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
  const measure = async (capture: string, file: string, plan: CapturePlan, write: (f: string, p: CapturePlan) => unknown) => {
    const t = performance.now();
    log(`  generating the ${capture} capture …\n`);
    await write(file, plan);
    const generateSeconds = (performance.now() - t) / 1000;
    log(`  analyze of the ${capture} capture …\n`);
    const a = await analyze(file);
    const bytes = statSync(file).size;
    const exchanges = expectedVerdicts(plan).exchanges;
    out.push({
      capture, bytes, exchanges, generateSeconds, analyzeSeconds: a.seconds, exchangesPerSecond: exchanges / a.seconds,
      mbPerSecond: bytes / 1048576 / a.seconds, peakRssMB: a.peakRssMB, verdictsAsPlanned: plannedSummary(plan, a.stdout),
    });
    rmSync(file);
  };
  try {
    // ~25 KB per stranded round pair of entries: 2,000 devices × 80 rounds is 2 GB.
    await measure('HAR', join(dir, 'fleet.har'), { devices: 2000, rounds: Math.max(2, Math.round(80 * scale)), appListBytes: 20_000 }, writeHar);
    // 5,000 devices × 400 rounds × 2.5 exchanges = 5,000,000 exchanges (bodies with a small app list).
    await measure('SQLite', join(dir, 'fleet.sqlite'), { devices: 5000, rounds: Math.max(2, Math.round(400 * scale)), appListBytes: 2_000 }, writeSqlite);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
