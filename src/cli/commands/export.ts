/** `mdmtap export FILE [--format har|jsonl|csv] [-o OUT]`: a capture for other tools, redacted as stored. */
import { Option, type Command } from 'commander';
import { extname } from 'node:path';
import { createWriteStream, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { NotACaptureError, openCaptureReadonly, type CaptureReader, type Filter } from '../../store/reader.js';
import { showProgress } from '../progress.js';
import { exportCsv, exportHar, exportJsonl } from '../../store/export.js';
import { UserError } from '../errors.js';
import { fileProblem } from '../../util/file-errors.js';
import { timeOption } from '../options.js';

interface ExportOptions {
  format?: keyof typeof FORMATS;
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

/** The format an output file's name asks for: `fleet.har`, `events.jsonl` (or `.ndjson`), `exchanges.csv`. */
function formatOf(output: string | undefined): keyof typeof FORMATS | undefined {
  const ext = output ? extname(output).toLowerCase() : '';
  return ext === '.har' ? 'har' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : ext === '.csv' ? 'csv' : undefined;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export an mdmtap SQLite capture as HAR, JSON lines (the events) or CSV (one row per exchange)')
    .argument('<file>', 'an mdmtap SQLite capture')
    .addOption(new Option('--format <format>', 'the format (default: from -o\'s extension)').choices(Object.keys(FORMATS)))
    .option('--udid <udid>', 'only this device (UDID or EnrollmentID)')
    .option('--since <time>', 'from this time (ISO 8601, e.g. 2026-11-25T10:00:00Z)', timeOption('--since'))
    .option('--until <time>', 'up to this time (ISO 8601)', timeOption('--until'))
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--quiet', 'no progress line on the terminal')
    .action(async (file: string, opts: ExportOptions) => {
      const format = opts.format ?? formatOf(opts.output);
      if (!format) {
        throw new UserError(`--format: give one of ${Object.keys(FORMATS).join(', ')}${opts.output ? `; "${opts.output}" does not end in .har, .jsonl or .csv` : ' (or an -o file ending in .har, .jsonl or .csv)'}`);
      }
      opts.format = format;
      const fn = FORMATS[format];
      // Opening the output truncates it: an -o naming the capture itself would destroy what is being exported.
      if (opts.output && sameFile(file, opts.output)) throw new UserError(`-o ${opts.output} is the capture itself: give another file`);
      let reader;
      try {
        reader = openCaptureReadonly(file);
      } catch (e) {
        throw e instanceof NotACaptureError ? new UserError(e.message) : e;
      }
      const filter: Filter = {
        ...(opts.udid ? { udid: opts.udid } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
        ...(opts.until !== undefined ? { until: opts.until } : {}),
      };
      let out: Writable = process.stdout;
      // A write that fails (a full disk, a folder given as -o) is one line and a non-zero exit, never a success.
      let writeError: Error | undefined;
      if (opts.output) {
        // Readable by its owner only, as the capture it comes from (a file that exists keeps its mode).
        const ws = createWriteStream(opts.output, { mode: 0o600 });
        try {
          await new Promise<void>((resolve, reject) => {
            ws.once('open', () => resolve());
            ws.once('error', reject);
          });
        } catch (e) {
          reader.close();
          throw new UserError(`cannot write ${opts.output}: ${fileProblem(e)}`);
        }
        ws.on('error', (e) => (writeError ??= e));
        out = ws;
      }
      // Progress counts the rows the format writes: exchanges (and pushes) for HAR and CSV, events for JSON lines.
      let done = 0;
      const counted = countingReader(reader, () => done++);
      const c = reader.count(filter);
      const total = opts.format === 'jsonl' ? c.events : c.exchanges + (opts.format === 'har' ? c.pushes : 0);
      const progress = showProgress('export', () => ({ done, total: Math.max(total, done), unit: 'rows' }), { quiet: opts.quiet === true });
      let n = 0;
      try {
        n = await fn(counted, filter, out);
      } catch (e) {
        if (!writeError) throw e;
      } finally {
        progress.stop();
        reader.close();
      }
      if (out !== process.stdout && !writeError) {
        out.end();
        await new Promise<void>((resolve) => {
          out.once('finish', resolve);
          out.once('error', () => resolve());
        });
      }
      if (writeError) throw new UserError(`cannot write ${opts.output}: ${fileProblem(writeError)}`);
      if (opts.output) process.stderr.write(`wrote ${n} ${opts.format === 'jsonl' ? 'events' : opts.format === 'har' ? 'HAR entries (exchanges and pushes)' : 'exchanges'} to ${opts.output}\n`);
    });
}

/** Whether two paths are one file (an output that does not exist yet is not the capture). */
function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
