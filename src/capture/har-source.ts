/** A HAR file as a CaptureSource: entries streamed one at a time (har-stream.ts), classified as they come. */
import { statSync } from 'node:fs';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { classify } from '../mdm/classify.js';
import { sha256Hex } from '../mdm/hash.js';
import { harEntries } from './har-stream.js';
import { harEntryToExchange, harEntryToPush, readHarMeta, Scratch, type HarEntry } from './har.js';
import { latest } from '../util/latest.js';
import { messageKey, pushKey, suspendItem, type CaptureItem, type CaptureSource, type OpenOptions } from './source.js';

export async function openHarSource(file: string, opts: OpenOptions = {}): Promise<CaptureSource> {
  const total = statSync(file).size;
  let done = 0;
  let meta: ReturnType<typeof readHarMeta>;
  const entries = harEntries(file, {
    onLogField: (name, value) => {
      if (name === '_mdmtap') meta = readHarMeta(value);
    },
    onBytes: (b) => (done = b),
  });
  // mdmtap's export writes log._mdmtap before the entries: read up to the first entries to know the settings.
  const first = await entries.next();
  let exchanges = 0;
  let lastSeen: number | undefined;
  let index = 0;
  const scratch = { request: new Scratch(), response: new Scratch() };
  const read = (raw: unknown, assumeMdm: boolean): CaptureItem | undefined => {
    const e = raw as HarEntry;
    const push = harEntryToPush(e);
    if (push) return { kind: 'push', ts: push.ts, key: opts.keys ? pushKey(push) : '', push };
    // The bodies live only until classified: decoded into reused buffers, not allocated per entry.
    const ex = harEntryToExchange(e, index++, scratch);
    if (!ex) return undefined;
    exchanges++;
    // Any traffic in the capture, MDM or not, shows how long it was being recorded.
    if (lastSeen === undefined || ex.endedAt > lastSeen) lastSeen = ex.endedAt;
    const message = classify(ex, { assumeMdm });
    if (!message) return undefined;
    // Other tools' entries carry no id of mdmtap's: the same exchange in two HARs has the same time and body.
    const key = !opts.keys ? '' : e._mdmtap?.exchangeId ? messageKey(message) : `h|${ex.host}${ex.path}|${ex.startedAt}|${ex.endedAt}|${sha256Hex(ex.requestBody).slice(0, 16)}`;
    return { kind: 'message', ts: message.ts, key, message };
  };
  async function* items(): AsyncGenerator<CaptureItem[]> {
    // mdmtap's own export holds only decrypted MDM traffic: judged as live (undecodable bodies are flagged).
    const assumeMdm = meta !== undefined;
    // The runs of an mdmtap export: each begins when the first later item is read (the timeline orders by time).
    const runs = meta?.runs ?? [];
    let nextRun = 0;
    const convert = (raw: unknown[]): CaptureItem[] => {
      const out: CaptureItem[] = [];
      for (const e of raw) {
        const item = read(e, assumeMdm);
        if (!item) continue;
        for (; nextRun < runs.length && runs[nextRun].at < item.ts; nextRun++) out.push(suspendItem(runs[nextRun].at, runs[nextRun].settings));
        out.push(item);
      }
      return out;
    };
    if (!first.done) {
      yield convert(first.value);
      for await (const batch of entries) yield convert(batch);
    }
    const rest = runs.slice(nextRun).map((r) => suspendItem(r.at, r.settings));
    if (rest.length) yield rest;
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
