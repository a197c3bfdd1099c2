/** `mdmtap analyze FILE…`: replay captures through the live pipeline and report, or print the events. */
import type { Command } from 'commander';
import { loadCapture, type LoadedCapture } from '../../capture/load.js';
import { CaptureFormatError } from '../../capture/har.js';
import { replay } from '../../capture/replay.js';
import { renderReport } from '../report.js';
import { durationOption } from '../options.js';
import { UserError } from '../errors.js';
import { latest } from '../../util/latest.js';
import { DEFAULT_PUSH_GRACE_MS, DEFAULT_SESSION_TIMEOUT_MS } from '../defaults.js';

interface AnalyzeOptions {
  json?: boolean;
  pushGrace: number;
  sessionTimeout: number;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('replay HAR, mdmtap JSON-lines or SQLite captures through the analyzer and report what the server did')
    .argument('<file...>', 'capture files (HAR 1.2 from mdmtap, mitmproxy, Charles, Proxyman or a browser; mdmtap JSONL; mdmtap SQLite)')
    .option('--json', 'print the events as JSON lines instead of the report')
    .option('--push-grace <duration>', 'how long a server has to push after a session that owes one (SQLite captures: the one they were recorded with)', durationOption('--push-grace'), DEFAULT_PUSH_GRACE_MS)
    .option('--session-timeout <duration>', 'a session silent this long counts as interrupted (SQLite captures: as recorded)', durationOption('--session-timeout'), DEFAULT_SESSION_TIMEOUT_MS)
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
      // A SQLite capture knows the grace and timeout it was judged with live: unless told otherwise, replay with
      // them, so the same capture gives the same verdicts.
      const recorded = loaded.find((l) => l.recorded)?.recorded;
      if (cmd.getOptionValueSource('pushGrace') === 'default' && recorded?.pushGraceMs) opts.pushGrace = recorded.pushGraceMs;
      if (cmd.getOptionValueSource('sessionTimeout') === 'default' && recorded?.sessionTimeoutMs) opts.sessionTimeout = recorded.sessionTimeoutMs;
      const messages = loaded.flatMap((l) => l.messages).sort((a, b) => a.ts - b.ts);
      const pushes = loaded.flatMap((l) => l.pushes);
      const lastTs = latest(loaded.map((l) => l.lastTs));
      const { events, endTs } = replay(
        messages,
        pushes,
        { pushGraceMs: opts.pushGrace, sessionTimeoutMs: opts.sessionTimeout },
        lastTs,
      );
      if (opts.json) {
        process.stdout.write(events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : ''));
      } else {
        process.stdout.write(
          renderReport({
            files: loaded.map((l) => ({ name: l.name, format: l.format, exchanges: l.exchanges })),
            events,
            pushGraceMs: opts.pushGrace,
            endTs,
            pushesObserved: pushes.length > 0,
          }),
        );
      }
      process.exitCode = events.some((e) => e.type === 'warning' && e.severity === 'warning') ? 1 : 0;
    });
}
