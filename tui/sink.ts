/**
 * The dashboard as a pipeline sink: events and decoded exchanges go into the store outside React, with every string
 * made printable on the way in (what a device sends must not drive the terminal; the detail view's bodies are
 * made so when opened, in the store).
 */
import type { Sink } from '../src/sinks/sink.js';
import type { DashboardStore } from './state/dashboard-store.js';
import { printableDeep } from '../src/util/printable.js';

export function dashboardSink(store: DashboardStore): Sink {
  return {
    event: (ev) => store.ingest(printableDeep(ev)),
    exchange: (ex, msg) => store.ingestExchange(printableDeep(ex), printableDeep(msg)),
  };
}
