/**
 * The live pipeline: Exchange → classify → Analyzer → sinks, plus the clock that advances deadlines.
 *
 * It runs beside forwarding (the proxy hands over exchanges only after they were forwarded), and every fault in
 * here — a decoder bug, a sink that throws — becomes an `error` event instead of reaching a device connection.
 */
import type { AnalyzerEvent, ErrorEvent } from '../model/events.js';
import { iso } from '../util/iso.js';
import type { Exchange } from '../model/exchange.js';
import type { MdmMessage, PushSeen } from '../model/message.js';
import { classify } from '../mdm/classify.js';
import { decodeContent } from '../mdm/content-coding.js';
import { Analyzer, type AnalyzerOptions } from '../analysis/analyzer.js';
import type { Sink } from '../sinks/sink.js';

export interface LivePipelineOptions extends AnalyzerOptions {
  /** The wall clock; injected so tests and replays control time. */
  now?: () => number;
  /** How often deadlines are checked (ms). */
  tickInterval?: number;
}

export class LivePipeline {
  readonly analyzer: Analyzer;
  private readonly sinks: Sink[] = [];
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LivePipelineOptions = {}) {
    this.analyzer = new Analyzer(opts);
    this.now = opts.now ?? Date.now;
  }

  addSink(sink: Sink): void {
    this.sinks.push(sink);
  }

  start(): void {
    if (this.timer) return;
    // The stream says what it is judged with, so a replay of it (or of its export) judges alike.
    this.emit([this.analyzer.captureEvent(this.now(), 'start')]);
    this.timer = setInterval(() => this.tick(), this.opts.tickInterval ?? 1000);
    this.timer.unref();
  }

  tick(): void {
    this.guard('analyzer', () => this.emit(this.analyzer.advance(this.now())));
  }

  exchange(wire: Exchange): void {
    this.guard('decode', () => {
      // Compressed bodies are analysed and recorded decoded (content-coding.ts).
      const ex = decodeContent(wire);
      const msg: MdmMessage | undefined = classify(ex, { assumeMdm: true });
      const events = msg ? this.analyzer.feed(msg) : [];
      const sessionId = sessionOf(events, ex.id);
      for (const s of this.sinks) this.guard('sink', () => s.exchange?.(ex, msg, sessionId));
      this.emit(events);
    });
  }

  push(p: PushSeen): void {
    for (const s of this.sinks) this.guard('sink', () => s.push?.(p));
    this.guard('analyzer', () => this.emit(this.analyzer.feedPush(p)));
  }

  /** A proxy-level fault (upstream unreachable, TLS failure, store failure). */
  error(kind: string, message: string): void {
    const ev: ErrorEvent = { type: 'error', ts: iso(this.now()), kind, message };
    this.emit([ev]);
  }

  /**
   * A clean stop: deadlines due by now are judged, sessions still open and pushes still owed are reported
   * `pending` (as `mdmtap analyze` reports them at a capture's end), and the stream says when watching stopped.
   */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const now = this.now();
    this.guard('analyzer', () => this.emit([...this.analyzer.finish(now), this.analyzer.captureEvent(now, 'stop')]));
    for (const s of this.sinks) await this.guardAsync(() => s.close?.());
  }

  private emit(events: AnalyzerEvent[]): void {
    for (const ev of events) for (const s of this.sinks) this.guard('sink', () => s.event(ev), ev.type === 'error');
  }

  private guard(where: string, fn: () => void, quiet = false): void {
    try {
      fn();
    } catch (e) {
      // Never let a fault in analysis or output escape towards the proxy; report it once, don't recurse.
      if (quiet) return;
      this.emit([{ type: 'error', ts: iso(this.now()), kind: `internal-${where}`, message: (e as Error)?.message ?? String(e) }]);
    }
  }

  private async guardAsync(fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      process.stderr.write(`mdmtap: while closing: ${(e as Error).message}\n`);
    }
  }
}

function sessionOf(events: AnalyzerEvent[], exchangeId: string): string | undefined {
  for (const ev of events) if (ev.type === 'exchange' && ev.exchangeId === exchangeId) return ev.sessionId;
  return undefined;
}
