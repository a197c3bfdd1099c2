/**
 * An mdmtap SQLite capture as a CaptureSource: stored exchanges go through the same classification as live
 * traffic, in end-time order, merged with the stored pushes. Stored bodies are redacted; the push-token and
 * PushMagic hashes kept beside each check-in come back as the exchange's `redactedFacts`, and the keys read from
 * bodies over --max-body as its scans, so the analyzer judges exactly as it did live.
 */
import { CaptureFormatError } from '../capture/errors.js';
import { messageKey, pushKey, suspendItem, type CaptureItem, type CaptureSource } from '../capture/source.js';
import { classify } from '../mdm/classify.js';
import { NotACaptureError, openCaptureReadonly } from './reader.js';

/** Rows per batch handed to the timeline. */
const BATCH = 256;

export function openSqliteSource(file: string): CaptureSource {
  const open = () => {
    try {
      return openCaptureReadonly(file);
    } catch (e) {
      throw e instanceof NotACaptureError ? new CaptureFormatError(e.message) : e;
    }
  };
  // Two connections: SQLite keeps a connection busy while one statement is iterated, and the exchanges and the
  // pushes are read side by side.
  const reader = open();
  const pushReader = open();
  const until = reader.observedUntil();
  const counts = reader.count();
  // Where each run after the first begins, and what it is judged with, as it was live (reader.runBoundaries).
  const recorded = reader.runSettings()[0];
  const stops = reader.runBoundaries();
  let rows = 0;
  let exchanges = 0;
  async function* items(): AsyncGenerator<CaptureItem[]> {
    const pushes = pushReader.pushes();
    let nextPush = pushes.next();
    let batch: CaptureItem[] = [];
    const push = (p: NonNullable<typeof nextPush.value>) => {
      rows++;
      batch.push({ kind: 'push', ts: p.ts, key: pushKey(p), push: p });
    };
    let nextStop = 0;
    const stopsUpTo = (ts: number) => {
      for (; nextStop < stops.length && stops[nextStop].at < ts; nextStop++) {
        batch.push(suspendItem(stops[nextStop].at, stops[nextStop].settings));
      }
    };
    for (const row of reader.replayExchanges()) {
      // What live classification found; a capture from before it was kept is classified again. Live, every
      // decrypted exchange is MDM traffic by definition, and the replay judges it the same way.
      const message = 'message' in row ? row.message : classify(row.exchange, { assumeMdm: true });
      const ended = 'message' in row ? row.message.ts : row.exchange.endedAt;
      while (!nextPush.done && nextPush.value.ts <= ended) {
        stopsUpTo(nextPush.value.ts);
        push(nextPush.value);
        nextPush = pushes.next();
      }
      stopsUpTo(ended);
      rows++;
      exchanges++;
      if (message) {
        batch.push({ kind: 'message', ts: message.ts, key: messageKey(message), message });
      }
      if (batch.length >= BATCH) {
        yield batch;
        batch = [];
      }
    }
    for (; !nextPush.done; nextPush = pushes.next()) {
      stopsUpTo(nextPush.value.ts);
      push(nextPush.value);
    }
    // A last run that recorded nothing of its own still judged with its settings what the runs before left open.
    stopsUpTo(Infinity);
    if (batch.length) yield batch;
  }
  return {
    name: file,
    format: 'sqlite',
    // Read by the time index and merged with the pushes by time.
    ordered: true,
    recorded,
    get exchanges() {
      return exchanges;
    },
    observedUntil: () => until,
    progress: () => ({ done: rows, total: counts.exchanges + counts.pushes, unit: 'rows' }),
    items,
    close: () => {
      reader.close();
      pushReader.close();
    },
  };
}

