/**
 * A large capture streams through `mdmtap analyze` with a small live set (measured: ~35 MB while replaying a
 * 1 GB HAR), but V8 sizes its heap by the allocation rate, not the live set: left alone the process grew to
 * 470 MB RSS. With the old generation capped the same run peaks near 250 MB for about 10 % more time. A heap cap
 * can only be given when the process starts, so for large inputs the command runs itself again with one —
 * unless the user chose a cap (node's own flag or NODE_OPTIONS).
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { constants } from 'node:os';

export const CAP_MB = 192;
/** Below this much input the default heap never grows far: not worth a second process. */
const LARGE_INPUT = 64 * 1024 * 1024;
const MARK = 'MDMTAP_HEAP_CAPPED';

/** Resolves with the exit code when the command ran in a capped child; undefined to run here. */
export async function runWithHeapCap(argv: string[]): Promise<number | undefined> {
  if (argv[2] !== 'analyze' || process.env[MARK]) return undefined;
  if (process.execArgv.some((a) => a.includes('max-old-space-size')) || (process.env.NODE_OPTIONS ?? '').includes('max-old-space-size')) return undefined;
  let bytes = 0;
  for (const a of argv.slice(3)) {
    if (a.startsWith('-')) continue;
    try {
      bytes += statSync(a).size;
    } catch {
      // not a file (an option's value, or a missing file the command will report)
    }
  }
  if (bytes < LARGE_INPUT) return undefined;
  const child = spawn(process.execPath, [...process.execArgv, `--max-old-space-size=${CAP_MB}`, ...argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 1))));
}
