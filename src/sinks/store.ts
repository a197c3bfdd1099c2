/** The SQLite capture as a sink: every exchange, push and event goes to the capture writer. */
import type { CaptureStore } from '../store/capture-store.js';
import type { CaptureWriter } from '../store/capture-writer.js';
import type { Sink } from './sink.js';

export function storeSink(store: Pick<CaptureStore | CaptureWriter, 'recordExchange' | 'recordEvent' | 'recordPush' | 'close'>): Sink {
  return {
    exchange: (ex, msg, sessionId) => store.recordExchange(ex, msg, sessionId),
    push: (p) => store.recordPush(p),
    // An obligation `pending` at a stop is still owed: the capture keeps it open, so the next start restores it and
    // judges it at its original deadline (a replay of the file reports it pending by itself).
    event: (ev) => (ev.type === 'obligation' && ev.event === 'pending' ? undefined : store.recordEvent(ev)),
    close: () => store.close(),
  };
}
