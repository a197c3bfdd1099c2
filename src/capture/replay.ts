/**
 * Offline replay: the same classify → Analyzer pipeline the live proxy runs, over a capture. Exchanges are fed in
 * the order the live proxy would have finished them (end time), so a replay reproduces the live events.
 */
import type { Exchange } from './exchange.js';
import type { AnalyzerEvent } from '../analysis/events.js';
import type { MdmMessage, PushSeen } from '../mdm/message.js';
import { classify } from '../mdm/classify.js';
import { Analyzer, type AnalyzerOptions } from '../analysis/analyzer.js';

export function orderExchanges(exchanges: Exchange[]): Exchange[] {
  return exchanges
    .map((ex, i) => ({ ex, i }))
    .sort((a, b) => a.ex.endedAt - b.ex.endedAt || a.ex.startedAt - b.ex.startedAt || a.i - b.i)
    .map((x) => x.ex);
}

export function messagesOf(exchanges: Exchange[]): MdmMessage[] {
  const out: MdmMessage[] = [];
  for (const ex of orderExchanges(exchanges)) {
    const m = classify(ex);
    if (m) out.push(m);
  }
  return out;
}

export interface ReplayResult {
  events: AnalyzerEvent[];
  /** The instant deadlines were judged against: the capture's last timestamp. */
  endTs: number | undefined;
}

/**
 * Feeds messages and pushes merged in time order, then closes the capture at its last timestamp (or `endTs`),
 * reporting obligations still open as pending.
 */
export function replay(
  messages: MdmMessage[],
  pushes: PushSeen[],
  opts: AnalyzerOptions,
  endTs?: number,
): ReplayResult {
  const analyzer = new Analyzer(opts);
  const events: AnalyzerEvent[] = [];
  // The stream says what it was judged with, like a live one, so `analyze --json` output replays alike.
  let first = messages[0]?.ts;
  for (const p of pushes) if (first === undefined || p.ts < first) first = p.ts;
  if (first !== undefined) events.push(analyzer.captureEvent(first, 'start'));
  const ps = [...pushes].sort((a, b) => a.ts - b.ts);
  let p = 0;
  let last = endTs;
  for (const m of messages) {
    while (p < ps.length && ps[p].ts <= m.ts) events.push(...analyzer.feedPush(ps[p++]));
    events.push(...analyzer.feed(m));
    last = last === undefined ? m.ts : Math.max(last, m.ts);
  }
  while (p < ps.length) {
    const push = ps[p++];
    events.push(...analyzer.feedPush(push));
    last = last === undefined ? push.ts : Math.max(last, push.ts);
  }
  if (last !== undefined) events.push(...analyzer.finish(last), analyzer.captureEvent(last, 'stop'));
  return { events, endTs: last };
}
