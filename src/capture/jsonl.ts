/**
 * mdmtap's own JSON lines (what `--json` prints and `export --format jsonl` writes) → the messages and pushes
 * they describe, so a recorded event stream can be judged again (for instance with another --push-grace).
 * jsonl-source.ts reads the file line by line.
 *
 * Events carry no secrets, so tokens are not in them: a push is tied back to its channel through a stand-in token
 * hash derived from the identity the live run had already mapped it to.
 */
import type { AnalyzerEvent, CaptureEvent, DdmEvent, ExchangeEvent, PushEvent, WarningEvent } from '../model/events.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { settingsIn } from '../analysis/registry.js';
import type {
  CheckinMessage,
  CommandMessage,
  CommandReply,
  DdmCheckin,
  Identity,
  MalformedMessage,
  MdmMessage,
  Platform,
  PushSeen,
} from '../model/message.js';
import type { ExchangeErrorKind } from '../model/exchange.js';
import { sha256Hex } from '../mdm/hash.js';
import { CaptureFormatError } from './errors.js';
import { messageKey, pushKey, suspendItem, type CaptureItem } from './source.js';

/**
 * One line of mdmtap's JSON lines as what the analyzer needs: a message, a push, the settings of the stream
 * (its `capture` line), or nothing (events that are conclusions, not traffic). Throws CaptureFormatError for a
 * line that is not an mdmtap event.
 */
export type JsonlLine =
  | { kind: 'item'; ts: number; item: CaptureItem }
  | { kind: 'settings'; ts: number; settings: AnalyzerOptions }
  /** The DDM facts of the exchange just before it (its `ddm` event follows its `exchange` event). */
  | { kind: 'ddm'; ts: number; exchangeId: string; apply(m: MdmMessage): void }
  | { kind: 'other'; ts: number };

export function readJsonlLine(line: string, where: string): JsonlLine {
  let ev: AnalyzerEvent;
  try {
    ev = JSON.parse(line) as AnalyzerEvent;
  } catch {
    throw new CaptureFormatError(`${where}: not a JSON object`);
  }
  if (!ev || typeof ev !== 'object' || typeof ev.type !== 'string' || typeof ev.ts !== 'string') {
    throw new CaptureFormatError(`${where}: not an mdmtap event (needs "type" and "ts")`);
  }
  const ts = Date.parse(ev.ts);
  if (!Number.isFinite(ts)) throw new CaptureFormatError(`${where}: bad "ts"`);
  if (ev.type === 'exchange') {
    const message = fromExchangeEvent(ev, ts);
    return { kind: 'item', ts, item: { kind: 'message', ts, key: messageKey(message), message } };
  }
  if (ev.type === 'push') {
    const push = fromPushEvent(ev, ts);
    return { kind: 'item', ts, item: { kind: 'push', ts, key: pushKey(push), push } };
  }
  if (ev.type === 'warning' && ev.rule === 'malformed-body' && !ev.sessionId) {
    const message = fromMalformedWarning(ev, ts);
    return { kind: 'item', ts, item: { kind: 'message', ts, key: messageKey(message), message } };
  }
  if (ev.type === 'ddm') return { kind: 'ddm', ts, exchangeId: ev.exchangeId, apply: (m) => applyDdm(ev, m) };
  if (ev.type === 'capture' && ev.event === 'start') return { kind: 'settings', ts, settings: settingsOf(ev) };
  // A stream of several runs (an export of a capture mdmtap was restarted on): each stop ends what was watched.
  if (ev.type === 'capture' && ev.event === 'stop') return { kind: 'item', ts, item: suspendItem(ts) };
  return { kind: 'other', ts };
}

/** Stand-in for a token hash: the same for a channel's TokenUpdate and the pushes already mapped to it. */
function channelToken(id: { udid: string; channel: string; userId?: string }): string {
  return sha256Hex(`channel:${id.udid}|${id.channel}|${id.userId ?? ''}`);
}

function identityOf(ev: { udid: string; channel: Identity['channel']; userId?: string; userShortName?: string }): Identity {
  const id: Identity = { udid: ev.udid, channel: ev.channel };
  if (ev.userId) id.userId = ev.userId;
  if (ev.userShortName) id.userShortName = ev.userShortName;
  return id;
}

function settingsOf(ev: CaptureEvent): AnalyzerOptions {
  return settingsIn(ev as unknown as Record<string, unknown>);
}

function fromExchangeEvent(ev: ExchangeEvent, ts: number): MdmMessage {
  const base = {
    exchangeId: ev.exchangeId,
    ts,
    startedAt: ts,
    host: ev.host ?? '',
    httpStatus: ev.httpStatus,
    identity: identityOf(ev),
  };
  const device = ev.platform ? { platform: ev.platform as Platform } : undefined;
  if (ev.endpoint === 'checkin') {
    const m: CheckinMessage = Object.assign(base, { endpoint: 'checkin' as const, messageType: ev.messageType ?? 'Unknown' });
    if (ev.messageType === 'TokenUpdate') {
      m.tokenHash = channelToken(ev);
      if (ev.tokenHex) m.tokenPrefix = ev.tokenHex.replace(/…$/, '');
      if (ev.pushMagicHash) m.pushMagicHash = ev.pushMagicHash;
    }
    if (ev.awaitingConfiguration !== undefined) m.awaitingConfiguration = ev.awaitingConfiguration;
    if (device) m.device = device;
    return m;
  }
  const m: CommandMessage = Object.assign(base, { endpoint: 'command' as const, status: ev.status ?? 'Unknown', reply: replyOf(ev) });
  if (ev.commandUUID) m.commandUUID = ev.commandUUID;
  if (ev.errorChain) m.errorChain = ev.errorChain;
  if (ev.userConfiguration) m.userConfiguration = true;
  if (device) m.device = device;
  return m;
}

/** Puts a `ddm` event's facts back on the message of its exchange, as classification found them live. */
function applyDdm(ev: DdmEvent, m: MdmMessage): void {
  if (ev.event === 'command') {
    if (m.endpoint === 'command' && m.reply.kind === 'command' && ev.declarationsToken !== undefined) m.reply.declarationsToken = ev.declarationsToken;
    return;
  }
  if (m.endpoint !== 'checkin') return;
  const d: DdmCheckin = { endpoint: ev.endpoint ?? ev.event, kind: ev.event };
  if (ev.declaration) d.declaration = ev.declaration;
  if (ev.declarationsToken !== undefined) d.declarationsToken = ev.declarationsToken;
  if (ev.items) d.items = ev.items;
  if (ev.declarations) d.status = { full: ev.full === true, clientCapabilities: ev.clientCapabilities === true, declarations: ev.declarations, errors: 0 };
  if (ev.notFound) d.notFound = true;
  if (ev.malformed) d.malformed = ev.malformed;
  m.ddm = d;
}

function replyOf(ev: ExchangeEvent): CommandReply {
  switch (ev.reply) {
    case 'command':
      return { kind: 'command', commandUUID: ev.replyCommandUUID ?? 'unknown', requestType: ev.requestType ?? 'unknown' };
    case 'http-error':
      return { kind: 'http-error', httpStatus: ev.httpStatus };
    case 'failed':
      return { kind: 'failed', error: (ev.error ?? 'connection-reset') as ExchangeErrorKind };
    case 'invalid':
      return { kind: 'invalid', reason: 'reply was not a command' };
    default:
      return { kind: 'end' };
  }
}

function fromPushEvent(ev: PushEvent, ts: number): PushSeen {
  const p: PushSeen = {
    ts,
    tokenHash: ev.udid && ev.channel ? channelToken({ udid: ev.udid, channel: ev.channel, userId: ev.userId }) : sha256Hex(`unmapped:${ev.tokenHex ?? ''}`),
    tokenPrefix: (ev.tokenHex ?? '').replace(/…$/, ''),
    apnsStatus: ev.apnsStatus,
  };
  if (ev.reason) p.reason = ev.reason;
  if (ev.pushMagicHash) p.pushMagicHash = ev.pushMagicHash;
  if (ev.udid && ev.channel) p.mappedTo = { udid: ev.udid, channel: ev.channel, ...(ev.userId ? { userId: ev.userId } : {}), ...(ev.host ? { host: ev.host } : {}) };
  if (ev.apnsExpiration !== undefined) p.apnsExpiration = ev.apnsExpiration;
  if (ev.apnsPriority !== undefined) p.apnsPriority = ev.apnsPriority;
  if (ev.apnsTopic !== undefined) p.apnsTopic = ev.apnsTopic;
  return p;
}

function fromMalformedWarning(ev: WarningEvent, ts: number): MalformedMessage {
  const d = ev.detail ?? {};
  const m: MalformedMessage = {
    exchangeId: String(d.exchangeId ?? ''),
    ts,
    startedAt: ts,
    host: ev.host ?? '',
    httpStatus: Number(d.httpStatus ?? 0),
    endpoint: 'malformed',
    side: d.side === 'response' ? 'response' : 'request',
    reason: String(d.reason ?? ev.message),
  };
  if (typeof d.offset === 'number') m.offset = d.offset;
  if (ev.udid !== 'unknown') m.identity = identityOf(ev);
  return m;
}
