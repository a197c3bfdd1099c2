/** `mdmtap analyze FILE…`: replay captures through the live pipeline and report, or print the events. */
import type { Command } from 'commander';
import { loadCapture, type LoadedCapture } from '../../capture/load.js';
import { CaptureFormatError } from '../../capture/har.js';
import { replay } from '../../capture/replay.js';
import { renderReport } from '../report.js';
import { durationOption } from '../options.js';
import { UserError } from '../errors.js';
import { latest } from '../../util/latest.js';
import { DEFAULT_PUSH_GRACE_MS, DEFAULT_PUSH_WAKE_MS, DEFAULT_RETURN_WINDOW_MS, DEFAULT_SESSION_TIMEOUT_MS } from '../defaults.js';
import type { AnalyzerOptions } from '../../analysis/analyzer.js';

interface AnalyzeOptions {
  json?: boolean;
  pushGrace: number;
  sessionTimeout: number;
  pushWake: number;
  returnWindow: number;
}

/** Each analyzer setting, its option and what the capture may have recorded for it. */
const SETTINGS: Array<[keyof AnalyzeOptions & ('pushGrace' | 'sessionTimeout' | 'pushWake' | 'returnWindow'), keyof AnalyzerOptions]> = [
  ['pushGrace', 'pushGraceMs'],
  ['sessionTimeout', 'sessionTimeoutMs'],
  ['pushWake', 'pushWakeMs'],
  ['returnWindow', 'returnWindowMs'],
];

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('replay HAR, mdmtap JSON-lines or SQLite captures through the analyzer and report what the server did')
    .argument('<file...>', 'capture files (HAR 1.2 from mdmtap, mitmproxy, Charles, Proxyman or a browser; mdmtap JSONL; mdmtap SQLite)')
    .option('--json', 'print the events as JSON lines instead of the report')
    .option('--push-grace <duration>', 'how long a server has to push after a session that owes one (mdmtap captures: the one they were recorded with)', durationOption('--push-grace'), DEFAULT_PUSH_GRACE_MS)
    .option('--session-timeout <duration>', 'a session silent this long counts as interrupted (mdmtap captures: as recorded)', durationOption('--session-timeout'), DEFAULT_SESSION_TIMEOUT_MS)
    .option('--push-wake <duration>', 'how long a push has to draw a session before push-no-checkin (mdmtap captures: as recorded)', durationOption('--push-wake'), DEFAULT_PUSH_WAKE_MS)
    .option('--return-window <duration>', 'how long a device has to come back after ending on NotNow before notnow-no-return (mdmtap captures: as recorded)', durationOption('--return-window'), DEFAULT_RETURN_WINDOW_MS)
    .addHelpText('after', '\nExit status: 0 no warning, 1 warnings raised, 2 unreadable input.')
    .action(async (files: string[], opts: AnalyzeOptions, cmd: Command) => {
      const loaded: Array<LoadedCapture & { name: string }> = [];
      for (const name of files) {
        try {
          loaded.push({ name, ...(await loadCapture(name)) });
        } catch (e) {
          if (e instanceof CaptureFormatError) throw new UserError(e.message, 2);
          throw e;
        }
      }
      // An mdmtap capture (SQLite, its HAR and JSON lines) knows what it was judged with live: unless told
      // otherwise, replay with that, so the same capture gives the same verdicts in every format.
      const recorded = loaded.find((l) => l.recorded)?.recorded;
      const settings: AnalyzerOptions = {};
      for (const [flag, key] of SETTINGS) {
        const fromCapture = recorded?.[key];
        settings[key] = cmd.getOptionValueSource(flag) === 'default' && fromCapture ? fromCapture : opts[flag];
      }
      const messages = loaded.flatMap((l) => l.messages).sort((a, b) => a.ts - b.ts);
      const pushes = loaded.flatMap((l) => l.pushes);
      const lastTs = latest(loaded.map((l) => l.lastTs));
      const { events, endTs } = replay(messages, pushes, settings, lastTs);
      if (opts.json) {
        process.stdout.write(events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : ''));
      } else {
        process.stdout.write(
          renderReport({
            files: loaded.map((l) => ({ name: l.name, format: l.format, exchanges: l.exchanges })),
            events,
            pushGraceMs: settings.pushGraceMs!,
            endTs,
            pushesObserved: pushes.length > 0,
          }),
        );
      }
      process.exitCode = events.some((e) => e.type === 'warning' && e.severity === 'warning') ? 1 : 0;
    });
}
