/** mdmtap's JSON lines as a CaptureSource: the file read in chunks and split into lines, one event at a time. */
import { createReadStream, statSync } from 'node:fs';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { readJsonlLine } from './jsonl.js';
import { suspendItem, type CaptureItem, type CaptureSource } from './source.js';
import { CaptureFormatError } from './errors.js';

/** A line longer than this is not an mdmtap event (events are a few KB at most). */
const MAX_LINE = 16 * 1024 * 1024;

/** The file's lines, a batch per chunk read; `last` marks a final line without a newline (a cut capture). */
async function* lines(file: string, onBytes: (n: number) => void): AsyncGenerator<Array<{ text: string; last: boolean }>> {
  let carry = '';
  let bytes = 0;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1024 * 1024 }) as AsyncIterable<string>) {
    bytes += Buffer.byteLength(chunk);
    onBytes(bytes);
    const batch: Array<{ text: string; last: boolean }> = [];
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      batch.push({ text: carry + chunk.slice(start, nl), last: false });
      carry = '';
      start = nl + 1;
    }
    carry += chunk.slice(start);
    if (carry.length > MAX_LINE) throw new CaptureFormatError(`${file}: a line longer than ${MAX_LINE / 1048576} MB is not an mdmtap event`);
    if (batch.length) yield batch;
  }
  if (carry !== '') yield [{ text: carry, last: true }];
}

export async function openJsonlSource(file: string): Promise<CaptureSource> {
  const total = statSync(file).size;
  let done = 0;
  let recorded: AnalyzerOptions | undefined;
  let lastTs: number | undefined;
  let exchanges = 0;
  const it = lines(file, (n) => (done = n));
  let lineNo = 0;
  const read = (line: { text: string; last: boolean }): CaptureItem | undefined => {
    lineNo++;
    const text = line.text.trim();
    if (text === '') return undefined;
    let parsed;
    try {
      parsed = readJsonlLine(text, `${file}, line ${lineNo}`);
    } catch (e) {
      // A capture cut by kill -9 may end in half a line; anything else is not our format.
      if (line.last && e instanceof CaptureFormatError && /not a JSON object/.test(e.message)) return undefined;
      throw e;
    }
    const before = lastTs;
    lastTs = lastTs === undefined ? parsed.ts : Math.max(lastTs, parsed.ts);
    if (parsed.kind === 'settings') {
      // Every start after the first begins a new run: the one before ended at its stop line, or — killed, with no
      // stop line — just after the last thing it wrote (nothing was judged in the gap). See Analyzer.suspend.
      if (recorded) {
        return suspendItem(Math.min(parsed.ts, (before ?? parsed.ts) + 1), parsed.settings);
      }
      recorded = parsed.settings;
    }
    if (parsed.kind === 'ddm') {
      if (held?.kind === 'message' && held.message.exchangeId === parsed.exchangeId) parsed.apply(held.message);
      return undefined;
    }
    if (parsed.kind !== 'item') return undefined;
    if (parsed.item.kind === 'message' && parsed.item.message.endpoint !== 'malformed') exchanges++;
    return parsed.item;
  };
  // One item is held back until the next line is read: an exchange's `ddm` event follows it, and completes it.
  let held: CaptureItem | undefined;
  const convert = (batch: Array<{ text: string; last: boolean }>): CaptureItem[] => {
    const out: CaptureItem[] = [];
    for (const line of batch) {
      const item = read(line);
      if (!item) continue;
      if (held) out.push(held);
      held = item;
    }
    return out;
  };
  // The stream's first line says what it was judged with: read it before anything is replayed.
  const first = await it.next();
  const firstItems = first.done ? [] : convert(first.value);
  async function* items(): AsyncGenerator<CaptureItem[]> {
    if (firstItems.length) yield firstItems;
    for await (const batch of it) {
      const out = convert(batch);
      if (out.length) yield out;
    }
    if (held) yield [held];
    held = undefined;
  }
  return {
    name: file,
    format: 'jsonl',
    get recorded() {
      return recorded;
    },
    get exchanges() {
      return exchanges;
    },
    // Live streams end with the moment watching stopped; every line's time counts.
    observedUntil: () => lastTs,
    progress: () => ({ done, total, unit: 'bytes' }),
    items,
    close: () => void it.return(undefined),
  };
}
