/**
 * Several captures as one timeline, in the order the live proxy would have seen them (end time), with memory
 * bounded by a window, not by the captures' length.
 *
 * Ordering is a bounded reorder per source, then a k-way merge of the sources. Why not an index pass (read every
 * file once for the times, sort, then read each entry again at its offset)? It would double the reading time of a
 * 2 GB HAR and need random access into one JSON document; and captures are nearly ordered already: mdmtap's
 * SQLite and JSON lines are in end-time order, and other tools write HAR entries in start-time order, which
 * differs from end time only by how long each exchange took (seconds). A reorder window of 10 minutes of capture
 * time (at most 50,000 items held) puts all of that right; an entry later than the window is still analysed, at
 * the analyzer's clock, and counted as `late`.
 *
 * Duplicates — the same exchange in two of the files, say a capture and its own export — are dropped and counted.
 */
import type { CaptureItem } from '../capture/source.js';
import { MinHeap } from '../util/heap.js';

export const REORDER_WINDOW_MS = 10 * 60_000;
export const REORDER_MAX_ITEMS = 50_000;

export interface TimelineStats {
  /** Items that came later than the reorder window allowed (analysed at the analyzer's clock). */
  late: number;
  /** Items dropped because another file held the same exchange or push. */
  duplicates: number;
}

export interface TimelineInput {
  items(): AsyncIterable<CaptureItem[]>;
  /**
   * The source gives its items in end-time order by construction (an mdmtap SQLite capture is read by its time
   * index): no reorder window, so nothing is held. Holding tens of thousands of decoded items long enough to be
   * promoted made the garbage collector a third of a SQLite replay's time.
   */
  readonly ordered?: boolean;
}

export async function* timeline(sources: TimelineInput[], stats: TimelineStats, opts: { windowMs?: number; maxItems?: number } = {}): AsyncGenerator<CaptureItem[]> {
  const windowMs = opts.windowMs ?? REORDER_WINDOW_MS;
  const ordered = sources.map((s) => (s.ordered ? s.items() : reorder(s.items(), windowMs, opts.maxItems ?? REORDER_MAX_ITEMS, stats)));
  if (ordered.length === 1) {
    yield* ordered[0];
    return;
  }
  // Keys of recent items: a duplicate has the same time as its twin, so only a window of them is remembered, and
  // forgotten oldest first (a queue: the merge gives them in time order).
  const recent = new Set<string>();
  const queue: Array<{ key: string; ts: number }> = [];
  let head = 0;
  for await (const batch of merge(ordered)) {
    const out: CaptureItem[] = [];
    for (const item of batch) {
      if (recent.has(item.key)) {
        stats.duplicates++;
        continue;
      }
      recent.add(item.key);
      queue.push({ key: item.key, ts: item.ts });
      while (queue[head].ts < item.ts - windowMs) recent.delete(queue[head++].key);
      if (head > 4096 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      out.push(item);
    }
    if (out.length) yield out;
  }
}

/** One source in time order, as far as a window of held items allows; a batch out per batch in. */
async function* reorder(source: AsyncIterable<CaptureItem[]>, windowMs: number, maxItems: number, stats: TimelineStats): AsyncGenerator<CaptureItem[]> {
  // Equal times keep their arrival order, so a replay is stable.
  const heap = new MinHeap<{ item: CaptureItem; seq: number }>((x, y) => x.item.ts < y.item.ts || (x.item.ts === y.item.ts && x.seq < y.seq));
  let seq = 0;
  let newest = -Infinity;
  let emitted = -Infinity;
  const take = (out: CaptureItem[]) => {
    const { item } = heap.pop()!;
    if (item.ts < emitted) stats.late++;
    else emitted = item.ts;
    out.push(item);
  };
  for await (const batch of source) {
    const out: CaptureItem[] = [];
    for (const item of batch) {
      heap.push({ item, seq: seq++ });
      if (item.ts > newest) newest = item.ts;
      while (heap.size > 0 && (heap.peek()!.item.ts <= newest - windowMs || heap.size > maxItems)) take(out);
    }
    if (out.length) yield out;
  }
  const rest: CaptureItem[] = [];
  while (heap.size > 0) take(rest);
  if (rest.length) yield rest;
}

/**
 * A k-way merge of time-ordered streams of batches. Equal times: the input named first wins, so which copy of a
 * duplicate is kept never depends on timing.
 */
async function* merge(inputs: Array<AsyncIterable<CaptureItem[]>>): AsyncGenerator<CaptureItem[]> {
  const streams = inputs.map((s) => s[Symbol.asyncIterator]());
  const queues = streams.map(() => ({ items: [] as CaptureItem[], at: 0, done: false }));
  const fill = async (i: number) => {
    const q = queues[i];
    while (!q.done && q.at >= q.items.length) {
      const r = await streams[i].next();
      if (r.done) q.done = true;
      else {
        q.items = r.value;
        q.at = 0;
      }
    }
  };
  for (;;) {
    for (let i = 0; i < queues.length; i++) await fill(i);
    const out: CaptureItem[] = [];
    // Take the earliest head until some input runs out of what it has read (then read it again above).
    for (;;) {
      let best = -1;
      for (let i = 0; i < queues.length; i++) {
        const q = queues[i];
        if (q.at >= q.items.length) {
          if (!q.done) {
            best = -2;
            break;
          }
          continue;
        }
        if (best === -1 || q.items[q.at].ts < queues[best].items[queues[best].at].ts) best = i;
      }
      if (best < 0) break;
      out.push(queues[best].items[queues[best].at++]);
    }
    if (out.length) yield out;
    if (queues.every((q) => q.done && q.at >= q.items.length)) return;
  }
}
