/** `mdmtap analyze FILE…`: replay captures through the live pipeline and report, or print the events. */
import type { Command } from 'commander';
import type { CaptureProgress, CaptureSource } from '../../capture/source.js';
import { openCapture } from '../../replay/open.js';
import { CaptureFormatError } from '../../capture/errors.js';
import { Replayer } from '../../replay/replayer.js';
import { timeline, type TimelineStats } from '../../replay/timeline.js';
import type { AnalyzerEvent } from '../../model/events.js';
import { ReportBuilder } from '../report.js';
import { showProgress } from '../progress.js';
import { EventWriter } from '../event-writer.js';
import { UserError } from '../errors.js';
import { latest } from '../../util/latest.js';
import { addSettingOptions, settingsFrom } from '../setting-options.js';
import { spoolStdin, type Spooled } from '../stdin.js';
import { printableLines } from '../../util/printable.js';

interface AnalyzeOptions {
  json?: boolean;
  quiet?: boolean;
}

export function registerAnalyze(program: Command): void {
  const command = program
    .command('analyze')
    .description('replay HAR, mdmtap JSON-lines or SQLite captures through the analyzer and report what the server did')
    .argument('<file...>', 'capture files (HAR 1.2 from mdmtap, mitmproxy, Charles, Proxyman or a browser; mdmtap JSONL; mdmtap SQLite); - reads stdin')
    .option('--json', 'print the events as JSON lines instead of the report')
    .option('--quiet', 'no progress line on the terminal')
    .addHelpText('after', '\nExit status: 0 no warning, 1 warnings raised, 2 unreadable input.');
  addSettingOptions(command, ' (mdmtap captures: as recorded, unless given)');
  command.action(async (files: string[], opts: AnalyzeOptions, cmd: Command) => {
      const sources: CaptureSource[] = [];
      let stdin: Spooled | undefined;
      try {
        // Several inputs: each item carries a key that tells when two of them hold the same exchange.
        for (const name of files) {
          if (name === '-') {
            if (stdin) throw new UserError('- (stdin) can be given once');
            stdin = await spoolStdin();
            sources.push(named(await openCapture(stdin.path, { keys: files.length > 1 }), 'stdin'));
          } else sources.push(await openCapture(name, { keys: files.length > 1 }));
        }
        // An mdmtap capture (SQLite, its HAR and JSON lines) knows what it was judged with live: unless told
        // otherwise, replay with that, so the same capture gives the same verdicts in every format.
        const settings = settingsFrom(cmd, sources.find((l) => l.recorded)?.recorded);
        const progress = showProgress('analyze', () => combined(sources.map((x) => x.progress())), { quiet: opts.quiet === true });
        const stats: TimelineStats = { late: 0, duplicates: 0 };
        const replayer = new Replayer(settings, (recorded) => settingsFrom(cmd, recorded));
        const report = opts.json ? undefined : new ReportBuilder();
        const out = new EventWriter(process.stdout);
        let warned = false;
        let pushes = false;
        const take = async (events: AnalyzerEvent[]) => {
          for (const ev of events) {
            if (ev.type === 'warning' && ev.severity === 'warning') warned = true;
            if (ev.type === 'push') pushes = true;
            if (report) report.add(ev);
            else out.write(ev);
          }
          await out.drained();
        };
        try {
          for await (const batch of timeline(sources, stats)) {
            const events: AnalyzerEvent[] = [];
            for (const item of batch) for (const ev of replayer.feed(item)) events.push(ev);
            await take(events);
          }
          const end = replayer.finish(latest(sources.map((x) => x.observedUntil())));
          await take(end.events);
          await out.drained();
          progress.stop();
          if (report) {
            const text = report.render({
              files: sources.map((x) => ({ name: x.name, format: x.format, exchanges: x.exchanges })),
              pushGraceMs: settings.pushGraceMs,
              ...(end.endTs !== undefined ? { endTs: end.endTs } : {}),
              pushesObserved: pushes,
              duplicates: stats.duplicates,
              late: stats.late,
            });
            // What devices sent is in the report: it must not drive the terminal.
            process.stdout.write(printableLines(text));
          } else if (stats.duplicates && !opts.quiet) {
            process.stderr.write(`mdmtap: ${stats.duplicates} exchanges and pushes held by more than one input were counted once\n`);
          }
        } finally {
          progress.stop();
        }
        process.exitCode = warned ? 1 : 0;
      } catch (e) {
        if (e instanceof CaptureFormatError) throw new UserError(e.message, 2);
        throw e;
      } finally {
        for (const x of sources) x.close();
        stdin?.remove();
      }
    });
}

/** A source shown under another name (stdin's temporary copy is `stdin` in the report). */
function named(source: CaptureSource, name: string): CaptureSource {
  return Object.create(source, { name: { value: name } }) as CaptureSource;
}

/** The progress of several inputs: summed when they count alike, as a share of the whole otherwise. */
function combined(parts: CaptureProgress[]): CaptureProgress {
  if (parts.every((p) => p.unit === parts[0].unit)) {
    return { unit: parts[0].unit, done: parts.reduce((n, p) => n + p.done, 0), total: parts.reduce((n, p) => n + p.total, 0) };
  }
  const share = parts.reduce((n, p) => n + (p.total ? Math.min(1, p.done / p.total) : 1), 0);
  return { unit: 'percent', done: share, total: parts.length };
}
