/**
 * Offline replay: the same classify → Analyzer pipeline the live proxy runs, over a capture. Items are fed in
 * the order the live proxy would have finished them (timeline.ts), so a replay reproduces the live events; the
 * stream opens and closes with `capture` lines like a live one.
 */
import type { Exchange } from '../model/exchange.js';
import type { AnalyzerEvent } from '../model/events.js';
import type { MdmMessage, PushSeen } from '../model/message.js';
import { classify } from '../mdm/classify.js';
import { Analyzer, type AnalyzerOptions } from '../analysis/analyzer.js';
import type { CaptureItem } from '../capture/source.js';

/** Feeds a replay item by item; memory is the analyzer's (per channel), not the capture's. */
export class Replayer {
  private readonly analyzer: Analyzer;
  private started = false;
  /** The capture's last timestamp so far. */
  last: number | undefined;

  /**
   * `settings`: what the capture (its first run) is judged with. `settingsFor` turns a later run's recorded
   * settings into the ones to judge it with (`mdmtap analyze --push-grace` overrides every run's).
   */
  constructor(
    settings: AnalyzerOptions,
    private readonly settingsFor: (recorded: AnalyzerOptions) => AnalyzerOptions = (recorded) => ({ ...settings, ...recorded }),
  ) {
    this.analyzer = new Analyzer(settings);
  }

  feed(item: CaptureItem): AnalyzerEvent[] {
    const out: AnalyzerEvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push(this.analyzer.captureEvent(item.ts, 'start'));
    }
    if (item.kind === 'message') out.push(...this.analyzer.feed(item.message));
    else if (item.kind === 'push') out.push(...this.analyzer.feedPush(item.push));
    else if (!item.settings) out.push(...this.analyzer.suspend(item.ts));
    else {
      // A run started with settings of its own: the stream says so as a live one does, with a stop and a start.
      const stopped = this.analyzer.captureEvent(item.ts, 'stop');
      out.push(...this.analyzer.suspend(item.ts, this.settingsFor(item.settings)), stopped, this.analyzer.captureEvent(item.ts, 'start'));
    }
    if (this.last === undefined || item.ts > this.last) this.last = item.ts;
    return out;
  }

  /** Closes the capture at `endTs` (or its last timestamp): what is still owed or open is reported pending. */
  finish(endTs?: number): { events: AnalyzerEvent[]; endTs: number | undefined } {
    const end = endTs === undefined ? this.last : this.last === undefined ? endTs : Math.max(endTs, this.last);
    if (end === undefined) return { events: [], endTs: undefined };
    return { events: [...this.analyzer.finish(end), this.analyzer.captureEvent(end, 'stop')], endTs: end };
  }
}

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

/** A whole capture held in memory (tests, small inputs): messages and pushes merged in time order. */
export function replay(messages: MdmMessage[], pushes: PushSeen[], opts: AnalyzerOptions, endTs?: number): ReplayResult {
  const r = new Replayer(opts);
  const events: AnalyzerEvent[] = [];
  const ps = [...pushes].sort((a, b) => a.ts - b.ts);
  let p = 0;
  const push = (x: PushSeen) => events.push(...r.feed({ kind: 'push', ts: x.ts, key: '', push: x }));
  for (const m of messages) {
    while (p < ps.length && ps[p].ts <= m.ts) push(ps[p++]);
    events.push(...r.feed({ kind: 'message', ts: m.ts, key: '', message: m }));
  }
  while (p < ps.length) push(ps[p++]);
  const end = r.finish(endTs);
  events.push(...end.events);
  return { events, endTs: end.endTs };
}
