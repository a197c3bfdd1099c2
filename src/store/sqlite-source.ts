/**
 * An mdmtap SQLite capture as a CaptureSource: stored exchanges go through the same classification as live
 * traffic, in end-time order, merged with the stored pushes. Stored bodies are redacted; the push-token and
 * PushMagic hashes kept beside each check-in come back as the exchange's `redactedFacts`, and the keys read from
 * bodies over --max-body as its scans, so the analyzer judges exactly as it did live.
 */
import { CaptureFormatError } from '../capture/errors.js';
import { messageKey, pushKey, type CaptureItem, type CaptureSource } from '../capture/source.js';
import { classify } from '../mdm/classify.js';
import { NotACaptureError, openCaptureReadonly } from './reader.js';

export function openSqliteSource(file: string): CaptureSource {
  const open = () => {
    try {
      return openCaptureReadonly(file);
    } catch (e) {
      throw new CaptureFormatError(`cannot read ${file} as an mdmtap capture: ${e instanceof NotACaptureError ? e.message : (e as Error).message}`);
    }
  };
  // Two connections: SQLite keeps a connection busy while one statement is iterated, and the exchanges and the
  // pushes are read side by side.
  const reader = open();
  const pushReader = open();
  const recorded = reader.recordedTiming();
  const until = reader.observedUntil();
  const counts = reader.count();
  let rows = 0;
  let exchanges = 0;
  async function* items(): AsyncGenerator<CaptureItem> {
    const pushes = pushReader.pushes();
    let nextPush = pushes.next();
    let yielded = 0;
    for (const ex of reader.exchanges({}, { outcome: false })) {
      while (!nextPush.done && nextPush.value.ts <= ex.endedAt) {
        rows++;
        yield { kind: 'push', ts: nextPush.value.ts, key: pushKey(nextPush.value), push: nextPush.value };
        nextPush = pushes.next();
      }
      rows++;
      exchanges++;
      // Live, every decrypted exchange is MDM traffic by definition; the replay must judge it the same way.
      const message = classify(ex, { assumeMdm: true });
      if (message) yield { kind: 'message', ts: message.ts, key: messageKey(message), message };
      // Hand the event loop back now and then (progress, output), without paying a promise per row.
      if (++yielded % 4096 === 0) await new Promise((r) => setImmediate(r));
    }
    for (; !nextPush.done; nextPush = pushes.next()) {
      rows++;
      yield { kind: 'push', ts: nextPush.value.ts, key: pushKey(nextPush.value), push: nextPush.value };
    }
  }
  return {
    name: file,
    format: 'sqlite',
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

