/**
 * HAR 1.2 → Exchanges, as real tools write it: mitmproxy, Charles, Proxyman and browsers differ in the details
 * (base64 `encoding`, bodies missing or empty, `status: 0` or `_error` for failed requests, `time: -1`, entries out
 * of order), and mdmtap's own export adds `_mdmtap` fields that restore what HAR cannot say.
 */
import type { Exchange, ExchangeErrorKind, Headers } from './exchange.js';
import { EMPTY_BODY } from './exchange.js';
import type { PushSeen } from '../mdm/message.js';

export class CaptureFormatError extends Error {}

interface HarHeader {
  name?: unknown;
  value?: unknown;
}

interface HarEntry {
  startedDateTime?: unknown;
  time?: unknown;
  timings?: Record<string, unknown>;
  connection?: unknown;
  _error?: unknown;
  request?: {
    method?: unknown;
    url?: unknown;
    headers?: HarHeader[];
    postData?: { text?: unknown; encoding?: unknown; _encoding?: unknown };
    bodySize?: unknown;
  };
  response?: {
    status?: unknown;
    headers?: HarHeader[];
    content?: { text?: unknown; encoding?: unknown; size?: unknown };
    _error?: unknown;
  };
  _mdmtap?: {
    exchangeId?: unknown;
    connectionId?: unknown;
    requestTruncated?: unknown;
    responseTruncated?: unknown;
    error?: { kind?: unknown; message?: unknown };
    endedAt?: unknown;
    redactedFacts?: { tokenHash?: unknown; tokenPrefix?: unknown; pushMagicHash?: unknown };
    /** A push mdmtap saw on its way to APNs (mdmtap's own export): replayed as a push, not as an exchange. */
    push?: { tokenHash?: unknown; tokenPrefix?: unknown; pushMagicHash?: unknown; apnsStatus?: unknown; reason?: unknown };
  };
}

export function parseHar(text: string, source = 'HAR'): Exchange[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CaptureFormatError(`${source} is not valid JSON (${(e as Error).message})`);
  }
  return harToExchanges(doc, source);
}

export function harToExchanges(doc: unknown, source = 'HAR'): Exchange[] {
  return harToCapture(doc, source).exchanges;
}

/** The exchanges of a HAR, and the pushes mdmtap's own export records beside them (sorted by time). */
export function harToCapture(doc: unknown, source = 'HAR'): { exchanges: Exchange[]; pushes: PushSeen[] } {
  const entries = (doc as { log?: { entries?: unknown } })?.log?.entries;
  if (!Array.isArray(entries)) throw new CaptureFormatError(`${source} is not a HAR file (no log.entries array)`);
  const exchanges: Exchange[] = [];
  const pushes: PushSeen[] = [];
  entries.forEach((raw, index) => {
    const push = entryToPush(raw as HarEntry);
    if (push) {
      pushes.push(push);
      return;
    }
    const ex = entryToExchange(raw as HarEntry, index);
    if (ex) exchanges.push(ex);
  });
  pushes.sort((a, b) => a.ts - b.ts);
  return { exchanges, pushes };
}

function entryToPush(e: HarEntry): PushSeen | undefined {
  const p = e?._mdmtap?.push;
  if (!p || typeof p !== 'object' || typeof p.tokenHash !== 'string' || typeof p.apnsStatus !== 'number') return undefined;
  const ts = Date.parse(String(e.startedDateTime ?? ''));
  if (!Number.isFinite(ts)) return undefined;
  return {
    ts,
    tokenHash: p.tokenHash,
    tokenPrefix: typeof p.tokenPrefix === 'string' ? p.tokenPrefix : '',
    ...(typeof p.pushMagicHash === 'string' ? { pushMagicHash: p.pushMagicHash } : {}),
    apnsStatus: p.apnsStatus,
    ...(typeof p.reason === 'string' ? { reason: p.reason } : {}),
  };
}

function entryToExchange(e: HarEntry, index: number): Exchange | undefined {
  if (!e || typeof e !== 'object' || !e.request) return undefined;
  const startedAt = Date.parse(String(e.startedDateTime ?? ''));
  if (!Number.isFinite(startedAt)) return undefined;
  const mdm = e._mdmtap ?? {};
  const endedAt =
    typeof mdm.endedAt === 'number' ? mdm.endedAt : startedAt + Math.max(0, Math.round(durationOf(e)));
  let url: URL;
  try {
    url = new URL(String(e.request.url ?? ''));
  } catch {
    return undefined;
  }
  const status = Number(e.response?.status ?? 0) || 0;
  const ex: Exchange = {
    id: typeof mdm.exchangeId === 'string' ? mdm.exchangeId : `har-${index + 1}`,
    connectionId:
      typeof mdm.connectionId === 'string' ? mdm.connectionId : e.connection !== undefined ? String(e.connection) : '',
    startedAt,
    endedAt,
    host: url.host,
    method: String(e.request.method ?? 'GET').toUpperCase(),
    path: url.pathname + url.search,
    requestHeaders: headersOf(e.request.headers),
    requestBody: bodyOf(e.request.postData?.text, e.request.postData?.encoding ?? e.request.postData?._encoding),
    requestTruncated: mdm.requestTruncated === true,
    status,
    responseHeaders: headersOf(e.response?.headers),
    responseBody: bodyOf(e.response?.content?.text, e.response?.content?.encoding),
    responseTruncated: mdm.responseTruncated === true,
  };
  const facts = mdm.redactedFacts;
  if (facts && typeof facts === 'object') {
    const f: NonNullable<Exchange['redactedFacts']> = {};
    if (typeof facts.tokenHash === 'string') f.tokenHash = facts.tokenHash;
    if (typeof facts.tokenPrefix === 'string') f.tokenPrefix = facts.tokenPrefix;
    if (typeof facts.pushMagicHash === 'string') f.pushMagicHash = facts.pushMagicHash;
    ex.redactedFacts = f;
  }
  const err = mdm.error;
  if (err && typeof err.kind === 'string') {
    ex.error = { kind: err.kind as ExchangeErrorKind, message: String(err.message ?? err.kind) };
  } else if (status === 0) {
    const why = e._error ?? e.response?._error;
    ex.error = { kind: errorKindOf(String(why ?? '')), message: why ? String(why) : 'no response (HAR status 0)' };
  }
  return ex;
}

/** HAR `time` is the total; -1 or missing means unknown, then the timings' known parts add up to it. */
function durationOf(e: HarEntry): number {
  if (typeof e.time === 'number' && e.time >= 0) return e.time;
  let sum = 0;
  for (const v of Object.values(e.timings ?? {})) if (typeof v === 'number' && v > 0) sum += v;
  return sum;
}

function errorKindOf(why: string): ExchangeErrorKind {
  const w = why.toLowerCase();
  if (w.includes('timed') || w.includes('timeout')) return 'timeout';
  if (w.includes('refused') || w.includes('unreachable') || w.includes('name_not_resolved')) return 'upstream-unreachable';
  if (w.includes('abort') || w.includes('cancel')) return 'client-aborted';
  if (w.includes('ssl') || w.includes('tls') || w.includes('cert')) return 'tls';
  return 'connection-reset';
}

function headersOf(list: HarHeader[] | undefined): Headers {
  const h: Headers = {};
  if (!Array.isArray(list)) return h;
  for (const { name, value } of list) {
    if (typeof name !== 'string' || name.startsWith(':')) continue; // HTTP/2 pseudo-headers from browsers
    const k = name.toLowerCase();
    const v = String(value ?? '');
    h[k] = h[k] === undefined ? v : `${h[k]}${k === 'cookie' ? '; ' : ', '}${v}`;
  }
  return h;
}

function bodyOf(text: unknown, encoding: unknown): Uint8Array {
  if (typeof text !== 'string' || text.length === 0) return EMPTY_BODY;
  if (encoding === 'base64') return Buffer.from(text, 'base64');
  return Buffer.from(text, 'utf8');
}
