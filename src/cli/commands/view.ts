/**
 * `mdmtap view FILE`: a capture, read-only. On a terminal it opens in the dashboard (the stored events replayed
 * into it, with the stored exchanges for the detail view); otherwise, or with --report, a report: what the capture
 * holds, and its events told per device as `mdmtap analyze` tells them.
 */
import type { Command } from 'commander';
import type { AnalyzerEvent } from '../../analysis/events.js';
import { NotACaptureError, openCaptureReadonly, type CaptureReader } from '../../store/reader.js';
import { classify } from '../../mdm/classify.js';
import { renderReport } from '../report.js';
import { UserError } from '../errors.js';
import { DEFAULT_PUSH_GRACE_MS } from '../defaults.js';

export function registerView(program: Command): void {
  program
    .command('view')
    .description('open an mdmtap SQLite capture read-only (works while a proxy is writing it)')
    .argument('<file>', 'an mdmtap SQLite capture')
    .option('--report', 'print the report even on a terminal')
    .action(async (file: string, opts: { report?: boolean }) => {
      let reader;
      try {
        reader = openCaptureReadonly(file);
      } catch (e) {
        throw new UserError(`cannot read ${file} as an mdmtap capture: ${e instanceof NotACaptureError ? e.message : (e as Error).message}`);
      }
      try {
        const events: AnalyzerEvent[] = [];
        for (const row of reader.events()) events.push(JSON.parse(row.json) as AnalyzerEvent);
        const c = reader.counts();
        const pushGraceMs = reader.recordedTiming().pushGraceMs ?? DEFAULT_PUSH_GRACE_MS;
        if (process.stdout.isTTY && !opts.report) {
          await browse(file, reader, events, c, pushGraceMs);
          return;
        }
        const runs = reader.meta().runs;
        const header = [
          `capture ${file}: ${c.exchanges} exchanges, ${c.sessions} sessions, ${c.devices} device channels, ${c.warnings} warnings (${c.openWarnings} unresolved)`,
          ...runs.map((r) => `  run ${r.started_at} → ${r.stopped_at ?? '(running or killed)'}  mdmtap ${r.mdmtap_version}${r.keep_secrets ? '  --keep-secrets: bodies stored UNREDACTED' : ''}`),
          '',
        ].join('\n');
        const lastTs = events.length ? Date.parse(events[events.length - 1].ts) : undefined;
        process.stdout.write(
          header +
            renderReport({
              files: [{ name: file, format: 'sqlite', exchanges: c.exchanges }],
              events,
              pushGraceMs,
              ...(lastTs !== undefined ? { endTs: lastTs } : {}),
              pushesObserved: events.some((e) => e.type === 'push'),
            }),
        );
      } finally {
        reader.close();
      }
    });
}

async function browse(file: string, reader: CaptureReader, events: AnalyzerEvent[], c: { exchanges: number; warnings: number }, pushGraceMs: number): Promise<void> {
  const { DashboardStore, runDashboard } = await (await import('../../../tui/load.js')).loadDashboard();
  const lastTs = events.length ? Date.parse(events[events.length - 1].ts) : Date.now();
  // Ages and countdowns are shown as of the capture's end, not of today.
  const store = new DashboardStore({ now: () => lastTs });
  store.setInfo({ mode: 'capture (read-only)', captureFile: file, pushGraceMs, pushObservable: events.some((e) => e.type === 'push'), readOnly: true, note: `${c.exchanges} exchanges` });
  for (const ex of reader.exchanges()) store.ingestExchange(ex, classify(ex, { assumeMdm: true }));
  for (const ev of events) store.ingest(ev);
  await new Promise<void>((done) => {
    const ui = runDashboard({ store, onQuit: () => done() });
    process.once('SIGTERM', () => {
      ui.unmount();
      done();
    });
  });
  store.close();
}
