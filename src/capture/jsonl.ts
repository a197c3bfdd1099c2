/**
 * mdmtap's own JSON lines (what `--json` prints and `export --format jsonl` writes) → the messages and pushes
 * they describe, so a recorded event stream can be judged again (for instance with another --push-grace).
 *
 * Events carry no secrets, so tokens are not in them: a push is tied back to its channel through a stand-in token
 * hash derived from the identity the live run had already mapped it to.
 */
import type { AnalyzerEvent, CaptureEvent, ExchangeEvent, PushEvent, WarningEvent } from '../analysis/events.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import type {
  CheckinMessage,
  CommandMessage,
  CommandReply,
  Identity,
  MalformedMessage,
  MdmMessage,
  Platform,
  PushSeen,
} from '../mdm/message.js';
import type { ExchangeErrorKind } from './exchange.js';
import { sha256Hex } from '../mdm/hash.js';
import { CaptureFormatError } from './har.js';

export interface EventCapture {
  messages: MdmMessage[];
  pushes: PushSeen[];
  /** The last timestamp in the file: deadlines are judged against it. */
  lastTs?: number;
  /** What the stream says it was judged with (its `capture` line). */
  recorded?: AnalyzerOptions;
}

export function parseJsonl(text: string, source = 'JSONL'): EventCapture {
  const messages: MdmMessage[] = [];
  const pushes: PushSeen[] = [];
  let lastTs: number | undefined;
  let recorded: AnalyzerOptions | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let ev: AnalyzerEvent;
    try {
      ev = JSON.parse(line) as AnalyzerEvent;
    } catch {
      // A capture cut by kill -9 may end in half a line; anything else is not our format.
      if (i >= lines.length - 2) break;
      throw new CaptureFormatError(`${source}, line ${i + 1}: not a JSON object`);
    }
    if (!ev || typeof ev !== 'object' || typeof ev.type !== 'string' || typeof ev.ts !== 'string') {
      throw new CaptureFormatError(`${source}, line ${i + 1}: not an mdmtap event (needs "type" and "ts")`);
    }
    const ts = Date.parse(ev.ts);
    if (!Number.isFinite(ts)) throw new CaptureFormatError(`${source}, line ${i + 1}: bad "ts"`);
    lastTs = lastTs === undefined ? ts : Math.max(lastTs, ts);
    if (ev.type === 'exchange') {
      const m = fromExchangeEvent(ev, ts);
      if (m) messages.push(m);
    } else if (ev.type === 'push') {
      pushes.push(fromPushEvent(ev, ts));
    } else if (ev.type === 'warning' && ev.rule === 'malformed-body' && !ev.sessionId) {
      messages.push(fromMalformedWarning(ev, ts));
    } else if (ev.type === 'capture' && ev.event === 'start' && recorded === undefined) {
      recorded = settingsOf(ev);
    }
  }
  return { messages, pushes, lastTs, ...(recorded ? { recorded } : {}) };
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
  const out: AnalyzerOptions = {};
  for (const k of ['pushGraceMs', 'sessionTimeoutMs', 'pushWakeMs', 'returnWindowMs'] as const) {
    const v = ev[k];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[k] = v;
  }
  return out;
}

function fromExchangeEvent(ev: ExchangeEvent, ts: number): MdmMessage | undefined {
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
    const m: CheckinMessage = { ...base, endpoint: 'checkin', messageType: ev.messageType ?? 'Unknown' };
    if (ev.messageType === 'TokenUpdate') {
      m.tokenHash = channelToken(ev);
      if (ev.tokenHex) m.tokenPrefix = ev.tokenHex.replace(/…$/, '');
    }
    if (device) m.device = device;
    return m;
  }
  const m: CommandMessage = { ...base, endpoint: 'command', status: ev.status ?? 'Unknown', reply: replyOf(ev) };
  if (ev.commandUUID) m.commandUUID = ev.commandUUID;
  if (ev.errorChain) m.errorChain = ev.errorChain;
  if (ev.userConfiguration) m.userConfiguration = true;
  if (device) m.device = device;
  return m;
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
