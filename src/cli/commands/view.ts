/**
 * `mdmtap view FILE`: a capture, read-only. On a terminal it opens in the dashboard (the stored events replayed
 * into it, with the stored exchanges for the detail view), and while a proxy is still writing the file it follows
 * the new rows; otherwise, or with --report, a report: what the capture holds, and its events told per device as
 * `mdmtap analyze` tells them.
 */
import type { Command } from 'commander';
import type { AnalyzerEvent } from '../../model/events.js';
import { NotACaptureError, openCaptureReadonly, type CaptureReader } from '../../store/reader.js';
import { classify } from '../../mdm/classify.js';
import { ReportBuilder } from '../report.js';
import { showProgress } from '../progress.js';
import { UserError } from '../errors.js';
import { PUSH_GRACE } from '../../analysis/settings.js';
import { printableLines } from '../../util/printable.js';

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
        throw e instanceof NotACaptureError ? new UserError(e.message) : e;
      }
      try {
        const c = reader.counts();
        const pushGraceMs = reader.recordedTiming().pushGraceMs ?? PUSH_GRACE.default;
        const events = () => streamEvents(reader!);
        if (process.stdout.isTTY && !opts.report) {
          await browse(file, reader, c, pushGraceMs, opts.quiet === true);
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
          printableLines(
            header +
              report.render({
                files: [{ name: file, format: 'sqlite', exchanges: c.exchanges }],
                pushGraceMs,
                ...(lastTs !== undefined ? { endTs: lastTs } : {}),
                pushesObserved: pushes,
              }),
          ),
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
  c: { exchanges: number; warnings: number },
  pushGraceMs: number,
  quiet: boolean,
): Promise<void> {
  const { DashboardStore, runDashboard } = await (await import('../../../tui/load.js')).loadDashboard();
  // Rows up to this point are loaded now; later ones are followed while a proxy writes the file.
  let cursor = reader.end();
  const state = reader.writer(Date.now());
  const lastTs = reader.observedUntil() ?? Date.now();
  // A finished capture is shown as of its end (ages, countdowns); one being written, as of now.
  let following = state.writing;
  const store = new DashboardStore({ now: () => (following ? Date.now() : lastTs) });
  let pushObservable = false;
  let done = 0;
  const total = reader.count().exchanges;
  const progress = showProgress('view', () => ({ done, total: 2 * Math.max(total, 1), unit: 'rows' }), { quiet });
  for (const ex of reader.exchanges({ upTo: cursor })) {
    store.ingestExchange(ex, classify(ex, { assumeMdm: true }));
    done++;
  }
  for (const row of reader.events({ upTo: cursor })) {
    const ev = JSON.parse(row.json) as AnalyzerEvent;
    if (ev.type === 'push') pushObservable = true;
    if (ev.type === 'exchange') done++;
    store.ingest(ev);
  }
  progress.stop();
  const note = (n: number) => `${n} exchanges`;
  let exchanges = c.exchanges;
  store.setInfo({
    mode: 'capture (read-only)', captureFile: file, pushGraceMs, pushObservable, readOnly: true, following, note: note(exchanges),
    ...(state.unclean ? { notices: ["this capture's last run never stopped and its proxy is no longer writing it (killed?): its end is where it was cut off"] } : {}),
  });
  // Following: new rows every second, until the proxy stops (its run gets a stop time) or goes silent.
  const tick = following
    ? setInterval(() => {
        try {
          const t = reader.tail(cursor);
          cursor = t.cursor;
          for (const ex of t.exchanges) store.ingestExchange(ex, classify(ex, { assumeMdm: true }));
          for (const json of t.events) store.ingest(JSON.parse(json) as AnalyzerEvent);
          exchanges += t.exchanges.length;
          const w = reader.writer(Date.now());
          if (!w.writing && t.exchanges.length === 0 && t.events.length === 0) {
            following = false;
            clearInterval(tick);
          }
          store.setInfo({ following, note: note(exchanges) });
        } catch (e) {
          store.setInfo({ note: `reading ${file}: ${(e as Error).message}` });
        }
      }, 1000)
    : undefined;
  await new Promise<void>((done) => {
    const ui = runDashboard({ store, onQuit: () => done() });
    // `on`: with `once`, Ink's signal-exit would find no listener but its own and re-raise the signal.
    process.on('SIGTERM', () => {
      ui.unmount();
      done();
    });
  });
  if (tick) clearInterval(tick);
  store.close();
}
