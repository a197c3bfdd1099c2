/**
 * Exports of a capture, written as streams (a large capture never becomes one string): HAR 1.2 as the spec
 * writes it (validated against the HAR JSON schema in the tests), which mdmtap analyze, mitmproxy and Charles
 * read back, the stored events as JSON lines, and one CSV row per exchange.
 * Bodies are exported exactly as stored, i.e. redacted unless the capture was made with --keep-secrets.
 */
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { isUtf8 } from 'node:buffer';
import type { CaptureReader, Filter, StoredExchange, StoredPush } from './reader.js';
import { VERSION } from '../version.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { defaultSettings } from '../analysis/registry.js';

/** Recorded settings, the defaults filling in what an older capture did not record. */
function judgedWith(r: AnalyzerOptions): AnalyzerOptions {
  return { ...defaultSettings(), ...r };
}

async function write(out: Writable, s: string): Promise<void> {
  // An output that failed (a full disk) stops the export: waiting for its 'drain' would wait forever.
  if (out.errored || out.destroyed) throw out.errored ?? new Error('the output was closed');
  if (!out.write(s)) await once(out, 'drain');
}

/**
 * What the capture was judged with, so `mdmtap analyze` of the HAR reaches the capture's verdicts: the analyzer
 * settings of its first run, where each later run begins with its own (`runs`), and the moment mdmtap stopped
 * watching (versioned: `format`).
 */
export function harCaptureMeta(reader: CaptureReader): Record<string, unknown> {
  const until = reader.observedUntil();
  const runs = reader.runBoundaries();
  return {
    format: 1,
    ...judgedWith(reader.runSettings()[0] ?? {}),
    ...(runs.length ? { runs: runs.map((r) => ({ at: new Date(r.at).toISOString(), ...judgedWith(r.settings) })) } : {}),
    ...(until !== undefined ? { observedUntil: new Date(until).toISOString() } : {}),
  };
}

export async function exportHar(reader: CaptureReader, filter: Filter, out: Writable): Promise<number> {
  await write(
    out,
    `{"log":{"version":"1.2","creator":{"name":"mdmtap","version":${JSON.stringify(VERSION)}},"_mdmtap":${JSON.stringify(harCaptureMeta(reader))},"entries":[\n`,
  );
  let n = 0;
  for (const ex of reader.exchanges(filter)) {
    await write(out, (n++ ? ',\n' : '') + JSON.stringify(harEntry(ex)));
  }
  // Pushes travel with the exchanges, so a HAR replays to the same verdicts (a push discharges what it owed).
  for (const p of reader.pushes(filter)) {
    await write(out, (n++ ? ',\n' : '') + JSON.stringify(harPushEntry(p)));
  }
  await write(out, '\n]}}\n');
  return n;
}

/**
 * A push as a HAR entry: the request to APNs, with the token as its stored 8-hex prefix (the rest is never kept)
 * and APNs's status; `_mdmtap.push` carries the hashes the analyzer maps it by.
 */
function harPushEntry(p: StoredPush): Record<string, unknown> {
  const headers = [
    ...(p.apnsExpiration !== undefined ? [{ name: 'apns-expiration', value: p.apnsExpiration }] : []),
    ...(p.apnsPriority !== undefined ? [{ name: 'apns-priority', value: p.apnsPriority }] : []),
    ...(p.apnsTopic !== undefined ? [{ name: 'apns-topic', value: p.apnsTopic }] : []),
  ];
  return {
    startedDateTime: new Date(p.ts).toISOString(),
    time: 0,
    request: {
      // APNs's real URL, with the token shortened to the prefix mdmtap keeps (the full token is never stored).
      method: 'POST', url: `https://api.push.apple.com/3/device/${p.tokenPrefix}`, httpVersion: 'HTTP/2', cookies: [], headers, queryString: [],
      headersSize: -1, bodySize: -1,
    },
    response: {
      status: p.apnsStatus, statusText: p.reason ?? '', httpVersion: 'HTTP/2', cookies: [], headers: [],
      content: { size: 0, mimeType: 'application/json', text: '' }, redirectURL: '', headersSize: -1, bodySize: -1,
    },
    cache: {},
    timings: { send: 0, wait: 0, receive: 0 },
    _mdmtap: {
      push: {
        tokenHash: p.tokenHash, tokenPrefix: p.tokenPrefix, apnsStatus: p.apnsStatus,
        ...(p.pushMagicHash ? { pushMagicHash: p.pushMagicHash } : {}),
        ...(p.reason ? { reason: p.reason } : {}),
        ...(p.apnsExpiration !== undefined ? { apnsExpiration: p.apnsExpiration } : {}),
        ...(p.apnsPriority !== undefined ? { apnsPriority: p.apnsPriority } : {}),
        ...(p.apnsTopic !== undefined ? { apnsTopic: p.apnsTopic } : {}),
        ...(p.nextSessionMs !== undefined ? { nextSessionMs: p.nextSessionMs } : {}),
      },
    },
  };
}

/**
 * A body as HAR 1.2 writes it: text as it is (XML plists, JSON, redaction tags), so mitmproxy, Charles and
 * browsers show it; bytes that are not text (binary plists) in base64, flagged the spec's way for responses
 * (`content.encoding`) and with mdmtap's documented `_encoding` for requests, where HAR 1.2 has no field for it.
 */
function bodyText(body: Buffer, encodingField: 'encoding' | '_encoding'): Record<string, string> {
  if (isText(body)) return { text: body.toString('utf8') };
  return { text: body.toString('base64'), [encodingField]: 'base64' };
}

/** Valid UTF-8 without control characters other than tab, CR and LF: what a text field carries unchanged. */
function isText(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
    if (c === 0x7f) return false;
  }
  return isUtf8(b);
}

function headerList(h: Record<string, string>): Array<{ name: string; value: string }> {
  return Object.entries(h).map(([name, value]) => ({ name, value }));
}

function harEntry(ex: StoredExchange): Record<string, unknown> {
  const scheme = 'https';
  const url = `${scheme}://${ex.host}${ex.path.startsWith('/') ? '' : '/'}${ex.path}`;
  const reqBody = Buffer.from(ex.requestBody);
  const resBody = Buffer.from(ex.responseBody);
  const total = Math.max(0, ex.endedAt - ex.startedAt);
  let query: Array<{ name: string; value: string }> = [];
  try {
    query = [...new URL(url).searchParams].map(([name, value]) => ({ name, value }));
  } catch {
    query = [];
  }
  return {
    startedDateTime: new Date(ex.startedAt).toISOString(),
    time: total,
    request: {
      method: ex.method,
      url,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(ex.requestHeaders),
      queryString: query,
      ...(reqBody.length ? { postData: { mimeType: ex.requestHeaders['content-type'] ?? 'application/octet-stream', ...bodyText(reqBody, '_encoding') } } : {}),
      headersSize: -1,
      bodySize: ex.requestSize ?? reqBody.length,
    },
    response: {
      status: ex.error && !ex.status ? 0 : ex.status,
      statusText: '',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(ex.responseHeaders),
      content: { size: ex.responseSize ?? resBody.length, mimeType: ex.responseHeaders['content-type'] ?? 'application/octet-stream', ...bodyText(resBody, 'encoding') },
      redirectURL: '',
      headersSize: -1,
      bodySize: ex.responseSize ?? resBody.length,
    },
    cache: {},
    timings: { send: 0, wait: total, receive: 0 },
    ...(ex.error ? { _error: ex.error.message } : {}),
    _mdmtap: {
      exchangeId: ex.id,
      connectionId: ex.connectionId,
      endedAt: ex.endedAt,
      requestTruncated: ex.requestTruncated,
      responseTruncated: ex.responseTruncated,
      ...(ex.error ? { error: ex.error } : {}),
      ...(ex.redactedFacts ? { redactedFacts: ex.redactedFacts } : {}),
      ...(ex.sessionId ? { sessionId: ex.sessionId } : {}),
      ...(ex.requestScan ? { requestScan: ex.requestScan } : {}),
      ...(ex.responseScan ? { responseScan: ex.responseScan } : {}),
    },
  };
}

export async function exportJsonl(reader: CaptureReader, filter: Filter, out: Writable): Promise<number> {
  let n = 0;
  // The stream opens with what it was judged with and closes at the moment watching stopped, so the export
  // replays alike: a filtered export (whose events leave those lines out) or an older capture gets them here.
  // The settings are those of the run the first line falls in (a filtered export may begin in a later run).
  const runs = reader.runBoundaries();
  const judgedAt = (ts: string) => judgedWith(runs.filter((r) => r.at <= Date.parse(ts)).at(-1)?.settings ?? reader.runSettings()[0] ?? {});
  let judged = judgedWith(reader.recordedTiming());
  const line = (ts: string, event: 'start' | 'stop') => JSON.stringify({ type: 'capture', ts, event, format: 1, ...judged }) + '\n';
  let last: { ts: string; type: string; json: string } | undefined;
  for (const ev of reader.events(filter)) {
    if (!last && ev.type !== 'capture') {
      judged = judgedAt(ev.ts);
      await write(out, line(ev.ts, 'start'));
    }
    await write(out, ev.json + '\n');
    last = ev;
    n++;
  }
  const until = reader.observedUntil();
  if (last && until !== undefined && !(last.type === 'capture' && Date.parse(last.ts) >= until)) {
    judged = judgedWith(reader.recordedTiming());
    await write(out, line(new Date(until).toISOString(), 'stop'));
  }
  return n;
}

const CSV_COLUMNS = ['time', 'udid', 'channel', 'user_id', 'host', 'method', 'path', 'endpoint', 'message_type', 'status', 'command_uuid', 'request_type', 'http_status', 'error', 'session_id', 'session_outcome', 'request_bytes', 'response_bytes'];

export function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function exportCsv(reader: CaptureReader, filter: Filter, out: Writable): Promise<number> {
  await write(out, CSV_COLUMNS.join(',') + '\r\n');
  let n = 0;
  for (const ex of reader.exchanges(filter)) {
    const row = [
      new Date(ex.endedAt).toISOString(), ex.udid, ex.channel, ex.userId, ex.host, ex.method, ex.path, ex.endpoint, ex.messageType, ex.status_,
      ex.commandUUID, ex.requestType, ex.status, ex.error?.kind, ex.sessionId, ex.outcome, ex.requestSize, ex.responseSize,
    ];
    await write(out, row.map(csvField).join(',') + '\r\n');
    n++;
  }
  return n;
}
