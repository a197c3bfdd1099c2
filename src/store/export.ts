/**
 * Exports of a capture, written as streams (a large capture never becomes one string): HAR 1.2 that mdmtap
 * analyze, mitmproxy and Charles read back, the stored events as JSON lines, and one CSV row per exchange.
 * Bodies are exported exactly as stored, i.e. redacted unless the capture was made with --keep-secrets.
 */
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { CaptureReader, Filter, StoredExchange, StoredPush } from './reader.js';
import { VERSION } from '../version.js';

async function write(out: Writable, s: string): Promise<void> {
  if (!out.write(s)) await once(out, 'drain');
}

export async function exportHar(reader: CaptureReader, filter: Filter, out: Writable): Promise<number> {
  await write(out, `{"log":{"version":"1.2","creator":{"name":"mdmtap","version":${JSON.stringify(VERSION)}},"entries":[\n`);
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
  return {
    startedDateTime: new Date(p.ts).toISOString(),
    time: 0,
    request: {
      method: 'POST', url: `https://apns/3/device/${p.tokenPrefix}-redacted`, httpVersion: 'HTTP/2', cookies: [], headers: [], queryString: [],
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
      },
    },
  };
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
      // Always base64: bodies are bytes (Mdm-Signature covers them) and may be binary plists.
      postData: { mimeType: ex.requestHeaders['content-type'] ?? 'application/octet-stream', text: reqBody.toString('base64'), encoding: 'base64' },
      headersSize: -1,
      bodySize: ex.requestSize ?? reqBody.length,
    },
    response: {
      status: ex.error && !ex.status ? 0 : ex.status,
      statusText: '',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(ex.responseHeaders),
      content: { size: ex.responseSize ?? resBody.length, mimeType: ex.responseHeaders['content-type'] ?? 'application/octet-stream', text: resBody.toString('base64'), encoding: 'base64' },
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
    },
  };
}

export async function exportJsonl(reader: CaptureReader, filter: Filter, out: Writable): Promise<number> {
  let n = 0;
  for (const ev of reader.events(filter)) {
    await write(out, ev.json + '\n');
    n++;
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
