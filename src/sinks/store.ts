/** The SQLite capture as a sink: every exchange, push and event goes to the writer's queue. */
import type { CaptureStore } from '../store/writer.js';
import type { Sink } from './sink.js';

export function storeSink(store: CaptureStore): Sink {
  return {
    exchange: (ex, msg, sessionId) => store.recordExchange(ex, msg, sessionId),
    push: (p) => store.recordPush(p),
    event: (ev) => store.recordEvent(ev),
    close: () => store.close(),
  };
}
