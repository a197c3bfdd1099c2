/**
 * HAR 1.2 → Exchanges, as real tools write it: mitmproxy, Charles, Proxyman and browsers differ in the details
 * (base64 `encoding`, bodies missing or empty, `status: 0` or `_error` for failed requests, `time: -1`, entries out
 * of order), and mdmtap's own export adds `_mdmtap` fields that restore what HAR cannot say.
 */
import type { BodyScan, Exchange, ExchangeErrorKind, Headers } from '../model/exchange.js';
import { EMPTY_BODY } from '../model/exchange.js';
import type { PushSeen } from '../model/message.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { settingsIn } from '../analysis/registry.js';
import { APNS_HOSTS } from '../mdm/apns-hosts.js';
import { sha256Hex } from '../mdm/hash.js';

export { CaptureFormatError } from './errors.js';
import { CaptureFormatError } from './errors.js';

interface HarHeader {
  name?: unknown;
  value?: unknown;
}

export interface HarEntry {
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
    requestScan?: unknown;
    responseScan?: unknown;
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

/** What mdmtap's own HAR export says about how its capture was judged (`log._mdmtap`, versioned). */
export interface HarCaptureMeta {
  /** What the capture's first run was judged with. */
  settings: AnalyzerOptions;
  /** Where each later run begins for a replay (ms), with its settings (a capture mdmtap was restarted on). */
  runs: Array<{ at: number; settings: AnalyzerOptions }>;
  /** Until when mdmtap was watching (ms): deadlines up to then were judged live. */
  observedUntil?: number;
}

/** The exchanges of a HAR, and the pushes in it: mdmtap's own push entries, or a server's APNs requests. */
export function harToCapture(doc: unknown, source = 'HAR'): { exchanges: Exchange[]; pushes: PushSeen[]; meta?: HarCaptureMeta } {
  const log = (doc as { log?: { entries?: unknown; _mdmtap?: unknown } })?.log;
  const entries = log?.entries;
  if (!Array.isArray(entries)) throw new CaptureFormatError(`${source} is not a HAR file (no log.entries array)`);
  const exchanges: Exchange[] = [];
  const pushes: PushSeen[] = [];
  entries.forEach((raw, index) => {
    const push = harEntryToPush(raw as HarEntry);
    if (push) {
      pushes.push(push);
      return;
    }
    const ex = harEntryToExchange(raw as HarEntry, index);
    if (ex) exchanges.push(ex);
  });
  pushes.sort((a, b) => a.ts - b.ts);
  const meta = readHarMeta(log?._mdmtap);
  return { exchanges, pushes, ...(meta ? { meta } : {}) };
}

/** mdmtap's `log._mdmtap` (format 1): the settings a capture was judged with and until when it was watched. */
/** Runs read from a HAR's `_mdmtap` (a file is untrusted input: a list beyond any real capture's is cut). */
const MAX_RUNS = 100_000;

export function readHarMeta(m: unknown): HarCaptureMeta | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  if (o.format !== 1) return undefined;
  const settings = settingsIn(o);
  const until = typeof o.observedUntil === 'string' ? Date.parse(o.observedUntil) : NaN;
  const runs: HarCaptureMeta['runs'] = [];
  for (const r of Array.isArray(o.runs) ? (o.runs as unknown[]).slice(0, MAX_RUNS) : []) {
    const at = r && typeof r === 'object' ? Date.parse(String((r as Record<string, unknown>).at)) : NaN;
    if (Number.isFinite(at)) runs.push({ at, settings: settingsIn(r as Record<string, unknown>) });
  }
  runs.sort((a, b) => a.at - b.at);
  return { settings, runs, ...(Number.isFinite(until) ? { observedUntil: until } : {}) };
}

/** A push in a HAR entry: mdmtap's own push entry, or a server's request to APNs; undefined for anything else. */
export function harEntryToPush(e: HarEntry): PushSeen | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const ts = Date.parse(String(e.startedDateTime ?? ''));
  if (!Number.isFinite(ts)) return undefined;
  const p = e._mdmtap?.push;
  if (p && typeof p === 'object' && typeof p.tokenHash === 'string' && typeof p.apnsStatus === 'number') {
    const headers = p as { apnsExpiration?: unknown; apnsPriority?: unknown; apnsTopic?: unknown };
    return {
      ts,
      tokenHash: p.tokenHash,
      tokenPrefix: typeof p.tokenPrefix === 'string' ? p.tokenPrefix : '',
      ...(typeof p.pushMagicHash === 'string' ? { pushMagicHash: p.pushMagicHash } : {}),
      apnsStatus: p.apnsStatus,
      ...(typeof p.reason === 'string' ? { reason: p.reason } : {}),
      ...(typeof headers.apnsExpiration === 'string' ? { apnsExpiration: headers.apnsExpiration } : {}),
      ...(typeof headers.apnsPriority === 'string' ? { apnsPriority: headers.apnsPriority } : {}),
      ...(typeof headers.apnsTopic === 'string' ? { apnsTopic: headers.apnsTopic } : {}),
    };
  }
  return apnsRequest(e, ts);
}

/**
 * A server's own request to APNs, as mitmproxy or Charles record it beside the device traffic:
 * `POST https://api.push.apple.com/3/device/<hex token>` with `{"mdm": "<PushMagic>"}`. Read as a push, mapped by
 * its token like a live one; the PushMagic only ever becomes a hash.
 */
function apnsRequest(e: HarEntry, ts: number): PushSeen | undefined {
  if (String(e.request?.method ?? '').toUpperCase() !== 'POST') return undefined;
  let url: URL;
  try {
    url = new URL(String(e.request?.url ?? ''));
  } catch {
    return undefined;
  }
  if (!APNS_HOSTS.includes(url.hostname.toLowerCase())) return undefined;
  const token = /^\/3\/device\/([0-9A-Fa-f]{16,})$/.exec(url.pathname)?.[1];
  if (!token) return undefined;
  const hex = token.toLowerCase();
  const status = Number(e.response?.status ?? 0) || 0;
  const push: PushSeen = { ts, tokenHash: sha256Hex(hex), tokenPrefix: hex.slice(0, 8), apnsStatus: status };
  const body = bodyOf(e.request?.postData?.text, e.request?.postData?.encoding ?? e.request?.postData?._encoding);
  const magic = jsonField(body, 'mdm');
  if (magic !== undefined) push.pushMagicHash = sha256Hex(magic);
  if (status >= 400) {
    const reason = jsonField(bodyOf(e.response?.content?.text, e.response?.content?.encoding), 'reason');
    if (reason !== undefined) push.reason = reason;
  }
  const h = headersOf(e.request?.headers);
  if (h['apns-expiration'] !== undefined) push.apnsExpiration = h['apns-expiration'];
  if (h['apns-priority'] !== undefined) push.apnsPriority = h['apns-priority'];
  if (h['apns-topic'] !== undefined) push.apnsTopic = h['apns-topic'];
  return push;
}

function jsonField(body: Uint8Array, key: string): string | undefined {
  if (body.length === 0 || body.length > 64 * 1024) return undefined;
  try {
    const v = (JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown>)?.[key];
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A HAR entry as the Exchange it records (`index`: its place in the file, for an id when it has none). */
export function harEntryToExchange(e: HarEntry, index: number, scratch?: { request: Scratch; response: Scratch }): Exchange | undefined {
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
    requestBody: bodyOf(e.request.postData?.text, e.request.postData?.encoding ?? e.request.postData?._encoding, scratch?.request),
    requestTruncated: mdm.requestTruncated === true,
    status,
    responseHeaders: headersOf(e.response?.headers),
    responseBody: bodyOf(e.response?.content?.text, e.response?.content?.encoding, scratch?.response),
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
  const reqScan = scanOf(mdm.requestScan);
  const resScan = scanOf(mdm.responseScan);
  if (reqScan) ex.requestScan = reqScan;
  if (resScan) ex.responseScan = resScan;
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

function bodyOf(text: unknown, encoding: unknown, scratch?: Scratch): Uint8Array {
  if (typeof text !== 'string' || text.length === 0) return EMPTY_BODY;
  if (scratch) return scratch.decode(text, encoding === 'base64' ? 'base64' : 'utf8');
  if (encoding === 'base64') return Buffer.from(text, 'base64');
  return Buffer.from(text, 'utf8');
}

/**
 * A reusable buffer for bodies that are read once and dropped (a streamed replay classifies each exchange and
 * keeps only what it meant): no allocation per body, which at hundreds of thousands of entries is most of the
 * memory churn a streamed HAR causes.
 */
export class Scratch {
  private buf = Buffer.allocUnsafe(64 * 1024);

  decode(text: string, encoding: 'utf8' | 'base64'): Uint8Array {
    const need = encoding === 'base64' ? Math.ceil((text.length * 3) / 4) : Buffer.byteLength(text, 'utf8');
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(need, 2 * this.buf.length));
    const n = this.buf.write(text, 0, encoding);
    return this.buf.subarray(0, n);
  }
}

function scanOf(v: unknown): BodyScan | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as { keys?: unknown; problem?: unknown };
  const scan: BodyScan = {};
  if (o.keys && typeof o.keys === 'object' && !Array.isArray(o.keys)) scan.keys = o.keys as BodyScan['keys'];
  if (typeof o.problem === 'string') scan.problem = o.problem;
  return scan.keys || scan.problem ? scan : undefined;
}
