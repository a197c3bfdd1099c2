/** The dashboard as a pipeline sink: events and decoded exchanges go into the store outside React. */
import type { Sink } from '../src/sinks/sink.js';
import type { DashboardStore } from './state/dashboard-store.js';

export function dashboardSink(store: DashboardStore): Sink {
  return {
    event: (ev) => store.ingest(ev),
    exchange: (ex, msg) => store.ingestExchange(ex, msg),
  };
}
