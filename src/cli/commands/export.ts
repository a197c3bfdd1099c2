/** `mdmtap export FILE --format har|jsonl|csv`: a capture for other tools, redacted as stored. */
import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { NotACaptureError, openCaptureReadonly, type CaptureReader, type Filter } from '../../store/reader.js';
import { showProgress } from '../progress.js';
import { exportCsv, exportHar, exportJsonl } from '../../store/export.js';
import { UserError } from '../errors.js';
import { timeOption } from '../options.js';

interface ExportOptions {
  format: string;
  udid?: string;
  since?: number;
  until?: number;
  output?: string;
  quiet?: boolean;
}

/** The reader, with every row it hands out counted (for the progress line). */
function countingReader(reader: CaptureReader, tick: () => void): CaptureReader {
  const counted = <T>(it: IterableIterator<T>): IterableIterator<T> =>
    (function* () {
      for (const x of it) {
        tick();
        yield x;
      }
    })();
  return {
    ...reader,
    exchanges: (f, o) => counted(reader.exchanges(f, o)),
    events: (f) => counted(reader.events(f)),
    pushes: (f) => counted(reader.pushes(f)),
  };
}

const FORMATS = { har: exportHar, jsonl: exportJsonl, csv: exportCsv } as const;

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export an mdmtap SQLite capture as HAR, JSON lines (the events) or CSV (one row per exchange)')
    .argument('<file>', 'an mdmtap SQLite capture')
    .requiredOption('--format <format>', 'har, jsonl or csv')
    .option('--udid <udid>', 'only this device (UDID or EnrollmentID)')
    .option('--since <time>', 'from this time (ISO 8601, e.g. 2026-11-25T10:00:00Z)', timeOption('--since'))
    .option('--until <time>', 'up to this time (ISO 8601)', timeOption('--until'))
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--quiet', 'no progress line on the terminal')
    .action(async (file: string, opts: ExportOptions) => {
      const fn = FORMATS[opts.format as keyof typeof FORMATS];
      if (!fn) throw new UserError(`--format: "${opts.format}" is not one of har, jsonl, csv`);
      let reader;
      try {
        reader = openCaptureReadonly(file);
      } catch (e) {
        throw new UserError(`cannot read ${file} as an mdmtap capture: ${e instanceof NotACaptureError ? e.message : (e as Error).message}`);
      }
      const filter: Filter = {
        ...(opts.udid ? { udid: opts.udid } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
        ...(opts.until !== undefined ? { until: opts.until } : {}),
      };
      let out: Writable = process.stdout;
      if (opts.output) {
        const ws = createWriteStream(opts.output);
        await Promise.race([once(ws, 'open'), once(ws, 'error').then(([e]) => Promise.reject(new UserError(`cannot write ${opts.output}: ${(e as Error).message}`)))]);
        out = ws;
      }
      // Progress counts the rows the format writes: exchanges (and pushes) for HAR and CSV, events for JSON lines.
      let done = 0;
      const counted = countingReader(reader, () => done++);
      const c = reader.count(filter);
      const total = opts.format === 'jsonl' ? c.events : c.exchanges + (opts.format === 'har' ? c.pushes : 0);
      const progress = showProgress('export', () => ({ done, total: Math.max(total, done), unit: 'rows' }), { quiet: opts.quiet === true });
      try {
        const n = await fn(counted, filter, out);
        progress.stop();
        if (opts.output) process.stderr.write(`wrote ${n} ${opts.format === 'jsonl' ? 'events' : opts.format === 'har' ? 'HAR entries (exchanges and pushes)' : 'exchanges'} to ${opts.output}\n`);
      } finally {
        progress.stop();
        reader.close();
        if (out !== process.stdout) {
          out.end();
          await once(out, 'finish');
        }
      }
    });
}
