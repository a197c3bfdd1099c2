/**
 * `mdmtap view FILE`: a capture, read-only. Until the dashboard opens it interactively, a report: what the capture
 * holds, and its stored events told per device as `mdmtap analyze` tells them.
 */
import type { Command } from 'commander';
import type { AnalyzerEvent } from '../../analysis/events.js';
import { NotACaptureError, openCaptureReadonly } from '../../store/reader.js';
import { renderReport } from '../report.js';
import { UserError } from '../errors.js';
import { DEFAULT_PUSH_GRACE_MS } from '../defaults.js';

export function registerView(program: Command): void {
  program
    .command('view')
    .description('open an mdmtap SQLite capture read-only (works while a proxy is writing it)')
    .argument('<file>', 'an mdmtap SQLite capture')
    .action((file: string) => {
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
              pushGraceMs: DEFAULT_PUSH_GRACE_MS,
              ...(lastTs !== undefined ? { endTs: lastTs } : {}),
              pushesObserved: events.some((e) => e.type === 'push'),
            }),
        );
      } finally {
        reader.close();
      }
    });
}
