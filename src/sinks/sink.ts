/**
 * A sink: one consumer of the pipeline's output (JSON lines, the SQLite store, the dashboard). Adding a sink is
 * one new file implementing this; the pipeline never knows what a sink does with what it gets.
 */
import type { AnalyzerEvent } from '../model/events.js';
import type { Exchange } from '../model/exchange.js';
import type { MdmMessage, PushSeen } from '../model/message.js';

export interface Sink {
  /** Every analyzer event, in order. */
  event(ev: AnalyzerEvent): void;
  /** Every exchange, with what it meant (undefined when it was not MDM) and its session. */
  exchange?(ex: Exchange, msg: MdmMessage | undefined, sessionId: string | undefined): void;
  /** Every push seen on the way to APNs (before the analyzer's `push` event, which carries only a prefix). */
  push?(p: PushSeen): void;
  /** Flush and release; called once on shutdown. */
  close?(): void | Promise<void>;
}
