/** A HAR file as a CaptureSource: entries streamed one at a time (har-stream.ts), classified as they come. */
import { statSync } from 'node:fs';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { classify } from '../mdm/classify.js';
import { sha256Hex } from '../mdm/hash.js';
import { harEntries } from './har-stream.js';
import { harEntryToExchange, harEntryToPush, readHarMeta, type HarEntry } from './har.js';
import { latest } from '../util/latest.js';
import { messageKey, pushKey, type CaptureItem, type CaptureSource } from './source.js';

export async function openHarSource(file: string): Promise<CaptureSource> {
  const total = statSync(file).size;
  let done = 0;
  let meta: ReturnType<typeof readHarMeta>;
  const entries = harEntries(file, {
    onLogField: (name, value) => {
      if (name === '_mdmtap') meta = readHarMeta(value);
    },
    onBytes: (b) => (done = b),
  });
  // mdmtap's export writes log._mdmtap before the entries: read up to the first entry to know the settings.
  const first = await entries.next();
  let exchanges = 0;
  let lastSeen: number | undefined;
  async function* items(): AsyncGenerator<CaptureItem> {
    // mdmtap's own export holds only decrypted MDM traffic: judged as live (undecodable bodies are flagged).
    const assumeMdm = meta !== undefined;
    let index = 0;
    const read = (raw: unknown): CaptureItem | undefined => {
      const e = raw as HarEntry;
      const push = harEntryToPush(e);
      if (push) return { kind: 'push', ts: push.ts, key: pushKey(push), push };
      const ex = harEntryToExchange(e, index++);
      if (!ex) return undefined;
      exchanges++;
      // Any traffic in the capture, MDM or not, shows how long it was being recorded.
      if (lastSeen === undefined || ex.endedAt > lastSeen) lastSeen = ex.endedAt;
      const message = classify(ex, { assumeMdm });
      if (!message) return undefined;
      // Other tools' entries carry no id of mdmtap's: the same exchange in two HARs has the same time and body.
      const key = e._mdmtap?.exchangeId ? messageKey(message) : `h|${ex.host}${ex.path}|${ex.startedAt}|${ex.endedAt}|${sha256Hex(ex.requestBody).slice(0, 16)}`;
      return { kind: 'message', ts: message.ts, key, message };
    };
    if (!first.done) {
      const it = read(first.value);
      if (it) yield it;
      for await (const raw of entries) {
        const item = read(raw);
        if (item) yield item;
      }
    }
  }
  return {
    name: file,
    format: 'har',
    get recorded(): AnalyzerOptions | undefined {
      return meta?.settings;
    },
    get exchanges() {
      return exchanges;
    },
    observedUntil: () => latest([meta?.observedUntil, lastSeen]),
    progress: () => ({ done, total, unit: 'bytes' }),
    items,
    close: () => void entries.return(undefined),
  };
}
