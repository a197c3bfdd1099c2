/**
 * What the capture writer is given and gives back, in either thread: its options, the state a restart resumes
 * from, and the messages between the proxy's thread and the writer's thread (structured-cloned plain objects).
 */
import type { AnalyzerEvent } from '../model/events.js';
import type { Exchange } from '../model/exchange.js';
import type { MdmMessage, PushSeen } from '../model/message.js';
import type { Outcome, RuleId, WhoFields } from '../model/events.js';

export type WriterItem =
  | { kind: 'exchange'; ex: Exchange; msg?: MdmMessage; sessionId?: string; dropBody?: boolean }
  | { kind: 'event'; ev: AnalyzerEvent }
  | { kind: 'push'; p: PushSeen };

export type ToWriter = { type: 'items'; items: WriterItem[]; bytes: number } | { type: 'close' };

export type FromWriter =
  | { type: 'ready'; ok: boolean; state?: RestoredState }
  | { type: 'received'; bytes: number }
  | { type: 'error'; error: { kind: string; message: string } }
  | { type: 'closed' };

export interface StoreOptions {
  keepSecrets: boolean;
  /** false: exchange metadata only (`--no-bodies`). */
  bodies: boolean;
  maxQueue?: number;
  clientCertHeader?: string;
  onError(e: { kind: string; message: string }): void;
  run?: { version: string; options: Record<string, unknown> };
  /** Test hook: the flush interval (ms). */
  flushMs?: number;
}

export interface RestoredState {
  /** `checkedOut`: the enrollment's last word was a CheckOut (a push to its token is still recognised). */
  tokens: Array<{ tokenHash: string; who: WhoFields; pushMagicHash?: string; checkedOut?: boolean }>;
  obligations: Array<{ sessionId: string; who: WhoFields; openedAt: number; deadline: number; outcome: Outcome; commandUUIDs: string[] }>;
  warnings: Array<{ rule: RuleId; sessionId: string; who: WhoFields; warningId?: string }>;
}

