/**
 * `mdmtap view FILE`: a capture, read-only. On a terminal it opens in the dashboard (the stored events replayed
 * into it, with the stored exchanges for the detail view); otherwise, or with --report, a report: what the capture
 * holds, and its events told per device as `mdmtap analyze` tells them.
 */
import type { Command } from 'commander';
import type { AnalyzerEvent } from '../../model/events.js';
import { NotACaptureError, openCaptureReadonly, type CaptureReader } from '../../store/reader.js';
import { classify } from '../../mdm/classify.js';
import { ReportBuilder } from '../report.js';
import { showProgress } from '../progress.js';
import { UserError } from '../errors.js';
import { PUSH_GRACE } from '../../analysis/settings.js';

export function registerView(program: Command): void {
  program
    .command('view')
    .description('open an mdmtap SQLite capture read-only (works while a proxy is writing it)')
    .argument('<file>', 'an mdmtap SQLite capture')
    .option('--report', 'print the report even on a terminal')
    .option('--quiet', 'no progress line on the terminal')
    .action(async (file: string, opts: { report?: boolean; quiet?: boolean }) => {
      let reader;
      try {
        reader = openCaptureReadonly(file);
      } catch (e) {
        throw new UserError(`cannot read ${file} as an mdmtap capture: ${e instanceof NotACaptureError ? e.message : (e as Error).message}`);
      }
      try {
        const c = reader.counts();
        const pushGraceMs = reader.recordedTiming().pushGraceMs ?? PUSH_GRACE.default;
        const events = () => streamEvents(reader!);
        if (process.stdout.isTTY && !opts.report) {
          await browse(file, reader, events, c, pushGraceMs, opts.quiet === true);
          return;
        }
        const runs = reader.meta().runs;
        const header = [
          `capture ${file}: ${c.exchanges} exchanges, ${c.sessions} sessions, ${c.devices} device channels, ${c.warnings} warnings (${c.openWarnings} unresolved)`,
          ...runs.map((r) => `  run ${r.started_at} → ${r.stopped_at ?? '(running or killed)'}  mdmtap ${r.mdmtap_version}${r.keep_secrets ? '  --keep-secrets: bodies stored UNREDACTED' : ''}`),
          '',
        ].join('\n');
        const report = new ReportBuilder();
        let pushes = false;
        const total = reader.count().exchanges;
        let done = 0;
        const progress = showProgress('view', () => ({ done, total: Math.max(total, done), unit: 'rows' }), { quiet: opts.quiet === true });
        for (const ev of events()) {
          if (ev.type === 'exchange') done++;
          if (ev.type === 'push') pushes = true;
          report.add(ev);
        }
        progress.stop();
        const lastTs = reader.observedUntil();
        process.stdout.write(
          header +
            report.render({
              files: [{ name: file, format: 'sqlite', exchanges: c.exchanges }],
              pushGraceMs,
              ...(lastTs !== undefined ? { endTs: lastTs } : {}),
              pushesObserved: pushes,
            }),
        );
      } finally {
        reader.close();
      }
    });
}

/** The stored events, one at a time. */
function* streamEvents(reader: CaptureReader): Generator<AnalyzerEvent> {
  for (const row of reader.events()) yield JSON.parse(row.json) as AnalyzerEvent;
}

async function browse(
  file: string,
  reader: CaptureReader,
  events: () => Iterable<AnalyzerEvent>,
  c: { exchanges: number; warnings: number },
  pushGraceMs: number,
  quiet: boolean,
): Promise<void> {
  const { DashboardStore, runDashboard } = await (await import('../../../tui/load.js')).loadDashboard();
  const lastTs = reader.observedUntil() ?? Date.now();
  // Ages and countdowns are shown as of the capture's end, not of today.
  const store = new DashboardStore({ now: () => lastTs });
  let pushObservable = false;
  let done = 0;
  const total = reader.count().exchanges;
  const progress = showProgress('view', () => ({ done, total: 2 * Math.max(total, 1), unit: 'rows' }), { quiet });
  for (const ex of reader.exchanges()) {
    store.ingestExchange(ex, classify(ex, { assumeMdm: true }));
    done++;
  }
  for (const ev of events()) {
    if (ev.type === 'push') pushObservable = true;
    if (ev.type === 'exchange') done++;
    store.ingest(ev);
  }
  progress.stop();
  store.setInfo({ mode: 'capture (read-only)', captureFile: file, pushGraceMs, pushObservable, readOnly: true, note: `${c.exchanges} exchanges` });
  await new Promise<void>((done) => {
    const ui = runDashboard({ store, onQuit: () => done() });
    process.once('SIGTERM', () => {
      ui.unmount();
      done();
    });
  });
  store.close();
}
