/**
 * How a running command shows what it sees: the Ink dashboard when stdout is a terminal, JSON lines otherwise (or
 * with --json). The dashboard is loaded only when used, so headless runs never pay for React.
 */
import type { LivePipeline } from '../live/pipeline.js';
import { jsonlSink } from '../sinks/jsonl.js';
import type { DashboardInfo } from '../../tui/state/dashboard-store.js';

export interface Presenter {
  /** Resolves when the user quits the dashboard (never, in JSON mode: the caller waits for a signal). */
  quit: Promise<void>;
  setInfo(info: Partial<DashboardInfo>): void;
  close(): void;
}

export async function present(pipeline: LivePipeline, opts: { json: boolean; info: DashboardInfo; clientCertHeader?: string }): Promise<Presenter> {
  if (opts.json) {
    pipeline.addSink(jsonlSink());
    return { quit: new Promise<void>(() => {}), setInfo: () => {}, close: () => {} };
  }
  const { DashboardStore, dashboardSink, runDashboard } = await (await import('../../tui/load.js')).loadDashboard();
  const store = new DashboardStore(opts.clientCertHeader ? { clientCertHeader: opts.clientCertHeader } : {});
  store.setInfo(opts.info);
  pipeline.addSink(dashboardSink(store));
  let resolveQuit!: () => void;
  const quit = new Promise<void>((r) => (resolveQuit = r));
  const ui = runDashboard({ store, onQuit: () => resolveQuit() });
  return {
    quit,
    setInfo: (i) => store.setInfo(i),
    close: () => {
      ui.unmount();
      store.close();
    },
  };
}
