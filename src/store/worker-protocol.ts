/** Messages between the proxy's thread and the capture writer's thread (structured-cloned plain objects). */
import type { AnalyzerEvent } from '../analysis/events.js';
import type { Exchange } from '../capture/exchange.js';
import type { MdmMessage, PushSeen } from '../mdm/message.js';
import type { RestoredState } from './writer.js';

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
