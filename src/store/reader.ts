/**
 * Reading a capture back, read-only (works while a live mdmtap writes it: WAL lets readers in). Exchanges come
 * out as the same `Exchange` objects the proxy produced, in end-time order, bodies as stored (redacted).
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { fileProblem } from '../util/file-errors.js';
import { EMPTY_BODY, type Exchange } from '../model/exchange.js';
import type { MdmMessage, PushSeen } from '../model/message.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { SETTINGS } from '../analysis/registry.js';
import { optionName } from '../analysis/settings.js';
import { HEARTBEAT_MS, SCHEMA_VERSION } from './schema.js';

export interface Filter {
  udid?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
  /** Only rows written up to this cursor (what `tail` starts from), so a file being written reads consistently. */
  upTo?: TailCursor;
}

/** A position in a capture: the last exchange row and event row read. */
export interface TailCursor {
  exchange: number;
  event: number;
}

/** Whether a proxy is writing the capture now. */
export interface WriterState {
  /** The last run has not stopped and its heartbeat is recent. */
  writing: boolean;
  /** The last run has not stopped but its heartbeat is old: it was killed, or its machine is gone. */
  unclean: boolean;
}

/** How old a writing proxy's mark may be and still count. */
const HEARTBEAT_STALE_MS = 3 * HEARTBEAT_MS;
/** Rows one tail() returns at most: a reader catching up does it in steps. */
const TAIL_ROWS = 5000;

export interface StoredExchange extends Exchange {
  endpoint?: string;
  udid?: string;
  channel?: string;
  userId?: string;
  status_?: string;
  messageType?: string;
  commandUUID?: string;
  requestType?: string;
  sessionId?: string;
  tokenHash?: string;
  tokenPrefix?: string;
  pushMagicHash?: string;
  outcome?: string;
}

export interface StoredPush extends PushSeen {
  /** How long after the push the channel's next session started, once it did. */
  nextSessionMs?: number;
}

export interface CaptureReader {
  /** In end-time order. One iteration at a time per reader: SQLite holds the connection while it runs. */
  exchanges(f?: Filter, opts?: { outcome?: boolean }): IterableIterator<StoredExchange>;
  events(f?: Filter): IterableIterator<{ ts: string; type: string; json: string }>;
  pushes(f?: Filter): IterableIterator<StoredPush>;
  /**
   * Every exchange as a replay needs it, in end-time order: what live classification found when the capture kept
   * it, else the exchange (bodies, no headers) to classify again. The fast path of analyze.
   */
  replayExchanges(): IterableIterator<{ message: MdmMessage } | { exchange: Exchange }>;
  /** Rows a filter selects: for progress. */
  count(f?: Filter): { exchanges: number; pushes: number; events: number };
  counts(): { exchanges: number; sessions: number; devices: number; warnings: number; openWarnings: number };
  meta(): { runs: Array<{ started_at: string; stopped_at: string | null; mdmtap_version: string; keep_secrets: number }> };
  /** `--push-grace` / `--session-timeout` of the last run that wrote the file (ms), when it recorded them. */
  recordedTiming(): AnalyzerOptions;
  /** The settings each run was started with, in run order (a replay judges each run with its own). */
  runSettings(): AnalyzerOptions[];
  /**
   * Where each run after the first begins for a replay, and the settings it was started with: at the clean stop of
   * the run before, or — that run killed — just after the last thing it recorded (nothing was judged in the gap),
   * but never after the next start. One computation for the SQLite replay and the HAR export, so both agree.
   */
  runBoundaries(): Array<{ at: number; settings: AnalyzerOptions }>;
  /**
   * Until when mdmtap was watching (ms): the last stored event or the last clean stop, whichever is later. Live,
   * deadlines up to that moment were judged by the running proxy, so a replay judges them too.
   */
  observedUntil(): number | undefined;
  /** Where the file ends now (a cursor for tail()). */
  end(): TailCursor;
  /** Rows written after `from`, in the order they were written, and the cursor after them. */
  tail(from: TailCursor): { cursor: TailCursor; exchanges: StoredExchange[]; events: string[] };
  writer(now: number): WriterState;
  close(): void;
}


export class NotACaptureError extends Error {}

/** Opens a capture read-only; a NotACaptureError says why not in one line (`cannot read FILE: …`). */
export function openCaptureReadonly(file: string): CaptureReader {
  let db: Database.Database;
  try {
    // SQLite's own words for these ("unable to open database file", "disk I/O error") tell a person nothing.
    if (statSync(file).isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
    db = new Database(file, { readonly: true, fileMustExist: true });
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v === 0 || v > SCHEMA_VERSION) throw new NotACaptureError(v === 0 ? 'not an mdmtap capture (an SQLite file without its tables)' : `written by a newer mdmtap (schema ${v})`);
    db.prepare('SELECT 1 FROM exchanges LIMIT 1').all();
  } catch (e) {
    const why = e instanceof NotACaptureError ? e.message : (e as { code?: string }).code === 'SQLITE_NOTADB' ? 'not an SQLite file' : fileProblem(e);
    throw new NotACaptureError(`cannot read ${file}: ${why}`);
  }
  const where = (f: Filter | undefined, timeCol: string, udidCol = 'udid') => {
    const conds: string[] = [];
    const args: unknown[] = [];
    if (f?.udid) {
      conds.push(`${udidCol} = ?`);
      args.push(f.udid);
    }
    if (f?.since !== undefined) {
      conds.push(`${timeCol} >= ?`);
      args.push(f.since);
    }
    if (f?.until !== undefined) {
      conds.push(`${timeCol} <= ?`);
      args.push(f.until);
    }
    if (f?.upTo && timeCol.startsWith('e.')) {
      conds.push('e.rowid <= ?');
      args.push(f.upTo.exchange);
    }
    return { sql: conds.length ? `WHERE ${conds.join(' AND ')}` : '', args };
  };
  // A capture from schema 5 on keeps each distinct body once, in `bodies`; an older one (read as it is: a reader
  // never migrates) has them in the row.
  const hasRefs = (db.prepare(`SELECT count(*) AS n FROM pragma_table_info('exchanges') WHERE name = 'request_body_ref'`).get() as { n: number }).n > 0;
  const stored = (side: 'request' | 'response', row = 'e.') =>
    hasRefs ? `coalesce(${row}${side}_body, (SELECT data FROM bodies WHERE id = ${row}${side}_body_ref))` : `${row}${side}_body`;
  const bodies = `${stored('request')} AS request_body_stored, ${stored('response')} AS response_body_stored`;
  return {
    *exchanges(f, opts = {}) {
      const w = where(f, 'e.ended_ms', 'e.udid');
      // The session outcome is for exports; a replay judges sessions itself and skips the join.
      const sql = opts.outcome === false
        ? `SELECT e.*, ${bodies} FROM exchanges e ${w.sql} ORDER BY e.ended_ms, e.started_at, e.rowid`
        : `SELECT e.*, ${bodies}, s.outcome FROM exchanges e LEFT JOIN sessions s ON s.session_id = e.session_id ${w.sql} ORDER BY e.ended_ms, e.started_at, e.rowid`;
      const rows = db.prepare(sql).iterate(...w.args) as IterableIterator<Record<string, unknown>>;
      for (const r of rows) yield toExchange(r);
    },
    *replayExchanges() {
      // In the order the live proxy finished them (insertion order breaks ties, and the time index serves it
      // without a sort), as arrays (no object per row). A row that kept what live classification found needs
      // nothing else: its bodies are not even read.
      const hasMessage = (db.prepare(`SELECT count(*) AS n FROM pragma_table_info('exchanges') WHERE name = 'message'`).get() as { n: number }).n > 0;
      const message = hasMessage ? 'message' : 'NULL';
      const unless = (col: string) => (hasMessage ? `CASE WHEN message IS NULL THEN ${col} END` : col);
      const stmt = db.prepare(`SELECT ${message}, id, connection_id, started_at, ended_ms, host, method, path, ${unless(stored('request', ''))}, request_truncated,
        http_status, ${unless(stored('response', ''))}, response_truncated, error_kind, error_message, token_hash, token_prefix, push_magic_hash,
        request_scan, response_scan FROM exchanges ORDER BY ended_ms, rowid`);
      for (const r of stmt.raw(true).iterate() as IterableIterator<unknown[]>) {
        yield typeof r[0] === 'string' ? { message: JSON.parse(r[0]) as MdmMessage } : { exchange: replayExchange(r.slice(1)) };
      }
    },
    count(f) {
      const w = where(f, 'ended_ms');
      const p = where(f, 'ts_ms');
      const n = (sql: string, args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;
      return {
        exchanges: n(`SELECT count(*) AS n FROM exchanges ${w.sql}`, w.args),
        pushes: n(`SELECT count(*) AS n FROM pushes ${p.sql}`, p.args),
        // Events are not filtered here (their filter reads inside the JSON): for progress, the total will do.
        events: n('SELECT count(*) AS n FROM events', []),
      };
    },
    *events(f) {
      // Events carry ISO times; filter on the text, which sorts like the time.
      const conds: string[] = [];
      const args: unknown[] = [];
      if (f?.since !== undefined) {
        conds.push('ts >= ?');
        args.push(new Date(f.since).toISOString());
      }
      if (f?.until !== undefined) {
        conds.push('ts <= ?');
        args.push(new Date(f.until).toISOString());
      }
      if (f?.udid) {
        // The capture lines stay: they say where each run began and what it was judged with.
        conds.push(`(json_extract(json, '$.udid') = ? OR type = 'capture')`);
        args.push(f.udid);
      }
      if (f?.upTo) {
        conds.push('seq <= ?');
        args.push(f.upTo.event);
      }
      const sql = `SELECT ts, type, json FROM events ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY seq`;
      yield* db.prepare(sql).iterate(...args) as IterableIterator<{ ts: string; type: string; json: string }>;
    },
    *pushes(f) {
      const w = where(f, 'ts_ms');
      for (const r of db.prepare(`SELECT * FROM pushes ${w.sql} ORDER BY ts_ms, id`).iterate(...w.args) as IterableIterator<Record<string, unknown>>) yield {
        ts: Number(r.ts_ms),
        tokenHash: String(r.token_hash),
        tokenPrefix: String(r.token_prefix),
        ...(r.push_magic_hash ? { pushMagicHash: String(r.push_magic_hash) } : {}),
        apnsStatus: Number(r.apns_status),
        ...(r.reason ? { reason: String(r.reason) } : {}),
        ...(r.apns_expiration != null ? { apnsExpiration: String(r.apns_expiration) } : {}),
        ...(r.apns_priority != null ? { apnsPriority: String(r.apns_priority) } : {}),
        ...(r.apns_topic != null ? { apnsTopic: String(r.apns_topic) } : {}),
        ...(r.next_session_ms != null ? { nextSessionMs: Number(r.next_session_ms) } : {}),
      };
    },
    counts() {
      const one = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
      return {
        exchanges: one('SELECT count(*) AS n FROM exchanges'),
        sessions: one('SELECT count(*) AS n FROM sessions'),
        devices: one('SELECT count(*) AS n FROM devices'),
        warnings: one(`SELECT count(*) AS n FROM warnings WHERE severity = 'warning'`),
        openWarnings: one(`SELECT count(*) AS n FROM warnings WHERE severity = 'warning' AND resolved_at IS NULL`),
      };
    },
    meta() {
      return { runs: db.prepare('SELECT started_at, stopped_at, mdmtap_version, keep_secrets FROM runs ORDER BY id').all() as never };
    },
    recordedTiming() {
      const row = db.prepare('SELECT options FROM runs ORDER BY id DESC LIMIT 1').get() as { options: string } | undefined;
      return judgedWith(row?.options);
    },
    runSettings() {
      return (db.prepare('SELECT options FROM runs ORDER BY id').all() as Array<{ options: string }>).map((r) => judgedWith(r.options));
    },
    runBoundaries() {
      const runs = db.prepare('SELECT started_at, stopped_at, options FROM runs ORDER BY id').all() as Array<{ started_at: string; stopped_at: string | null; options: string }>;
      const lastBefore = db.prepare('SELECT max(t) AS t FROM (SELECT max(ended_ms) AS t FROM exchanges WHERE ended_ms <= ? UNION ALL SELECT max(ts_ms) FROM pushes WHERE ts_ms <= ?)');
      return runs.slice(1).flatMap((next, i) => {
        const stopped = runs[i].stopped_at;
        let at = Date.parse(stopped ?? next.started_at);
        if (!Number.isFinite(at)) return [];
        if (stopped === null) {
          const last = (lastBefore.get(at, at) as { t: number | null }).t;
          if (last !== null) at = Math.min(at, last + 1);
        }
        return [{ at, settings: judgedWith(next.options) }];
      });
    },
    observedUntil() {
      const r = db.prepare('SELECT (SELECT max(ts) FROM events) AS ev, (SELECT max(stopped_at) FROM runs) AS stop').get() as { ev: string | null; stop: string | null };
      const times = [r.ev, r.stop].map((t) => (t ? Date.parse(t) : NaN)).filter((t) => Number.isFinite(t));
      return times.length ? Math.max(...times) : undefined;
    },
    end() {
      const r = db.prepare('SELECT (SELECT coalesce(max(rowid), 0) FROM exchanges) AS x, (SELECT coalesce(max(seq), 0) FROM events) AS e').get() as { x: number; e: number };
      return { exchange: r.x, event: r.e };
    },
    tail(from) {
      const ex = (db.prepare(`SELECT e.rowid AS rid, e.*, ${bodies}, s.outcome FROM exchanges e LEFT JOIN sessions s ON s.session_id = e.session_id WHERE e.rowid > ? ORDER BY e.rowid LIMIT ?`).all(from.exchange, TAIL_ROWS) as Array<Record<string, unknown>>);
      const ev = db.prepare('SELECT seq, json FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(from.event, TAIL_ROWS) as Array<{ seq: number; json: string }>;
      return {
        cursor: { exchange: ex.length ? Number(ex.at(-1)!.rid) : from.exchange, event: ev.length ? ev.at(-1)!.seq : from.event },
        exchanges: ex.map(toExchange),
        events: ev.map((e) => e.json),
      };
    },
    writer(now) {
      const run = db.prepare('SELECT stopped_at FROM runs ORDER BY id DESC LIMIT 1').get() as { stopped_at: string | null } | undefined;
      if (!run || run.stopped_at) return { writing: false, unclean: false };
      const beat = db.prepare(`SELECT value FROM meta WHERE key = 'heartbeat_at'`).get() as { value: string } | undefined;
      const at = beat ? Date.parse(beat.value) : NaN;
      const writing = Number.isFinite(at) && now - at <= HEARTBEAT_STALE_MS;
      return { writing, unclean: !writing };
    },
    close: () => db.close(),
  };
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function replayExchange(r: unknown[]): Exchange {
  const [id, conn, started, ended, host, method, path, reqBody, reqTrunc, status, resBody, resTrunc, errKind, errMsg, tokenHash, tokenPrefix, magicHash, reqScan, resScan] = r;
  const ex: Exchange = {
    id: String(id),
    connectionId: String(conn ?? ''),
    startedAt: Date.parse(String(started)),
    endedAt: Number(ended),
    host: String(host),
    method: String(method),
    path: String(path),
    requestHeaders: NO_HEADERS,
    requestBody: (reqBody as Buffer | null) ?? EMPTY_BODY,
    requestTruncated: reqTrunc === 1,
    status: Number(status),
    responseHeaders: NO_HEADERS,
    responseBody: (resBody as Buffer | null) ?? EMPTY_BODY,
    responseTruncated: resTrunc === 1,
  };
  if (errKind) ex.error = { kind: errKind as NonNullable<Exchange['error']>['kind'], message: String(errMsg ?? '') };
  if (tokenHash || magicHash) {
    ex.redactedFacts = {
      ...(tokenHash ? { tokenHash: String(tokenHash) } : {}),
      ...(tokenPrefix ? { tokenPrefix: String(tokenPrefix) } : {}),
      ...(magicHash ? { pushMagicHash: String(magicHash) } : {}),
    };
  }
  if (reqScan) ex.requestScan = parseScan(reqScan);
  if (resScan) ex.responseScan = parseScan(resScan);
  return ex;
}

function parseScan(v: unknown): Exchange['requestScan'] {
  try {
    return typeof v === 'string' ? (JSON.parse(v) as NonNullable<Exchange['requestScan']>) : undefined;
  } catch {
    return undefined;
  }
}

function toExchange(r: Record<string, unknown>): StoredExchange {
  const opt = (k: string) => (r[k] === null || r[k] === undefined ? undefined : String(r[k]));
  const ex: StoredExchange = {
    id: String(r.id),
    connectionId: String(r.connection_id ?? ''),
    startedAt: Date.parse(String(r.started_at)),
    endedAt: Number(r.ended_ms),
    host: String(r.host),
    method: String(r.method),
    path: String(r.path),
    requestHeaders: JSON.parse(String(r.request_headers)) as Record<string, string>,
    requestBody: (r.request_body_stored as Buffer | null) ?? new Uint8Array(0),
    requestTruncated: r.request_truncated === 1,
    status: Number(r.http_status),
    responseHeaders: JSON.parse(String(r.response_headers)) as Record<string, string>,
    responseBody: (r.response_body_stored as Buffer | null) ?? new Uint8Array(0),
    responseTruncated: r.response_truncated === 1,
  };
  if (r.request_size !== null) ex.requestSize = Number(r.request_size);
  if (r.response_size !== null) ex.responseSize = Number(r.response_size);
  if (r.error_kind) ex.error = { kind: r.error_kind as NonNullable<Exchange['error']>['kind'], message: String(r.error_message ?? '') };
  const extra: Array<[keyof StoredExchange, string]> = [
    ['endpoint', 'endpoint'], ['udid', 'udid'], ['channel', 'channel'], ['userId', 'user_id'], ['status_', 'status'], ['messageType', 'message_type'],
    ['commandUUID', 'command_uuid'], ['requestType', 'request_type'], ['sessionId', 'session_id'], ['tokenHash', 'token_hash'], ['tokenPrefix', 'token_prefix'], ['pushMagicHash', 'push_magic_hash'], ['outcome', 'outcome'],
  ];
  for (const [k, col] of extra) {
    const v = opt(col);
    if (v !== undefined) (ex as unknown as Record<string, string>)[k] = v;
  }
  const reqScan = parseScan(r.request_scan);
  const resScan = parseScan(r.response_scan);
  if (reqScan) ex.requestScan = reqScan;
  if (resScan) ex.responseScan = resScan;
  if (ex.tokenHash || ex.pushMagicHash) {
    ex.redactedFacts = {
      ...(ex.tokenHash ? { tokenHash: ex.tokenHash } : {}),
      ...(ex.tokenPrefix ? { tokenPrefix: ex.tokenPrefix } : {}),
      ...(ex.pushMagicHash ? { pushMagicHash: ex.pushMagicHash } : {}),
    };
  }
  return ex;
}

/** The analyzer settings a run was started with, from its recorded options (`--push-grace` etc., in ms). */
function judgedWith(options: string | undefined): AnalyzerOptions {
  let o: Record<string, unknown> = {};
  try {
    o = options ? (JSON.parse(options) as Record<string, unknown>) : {};
  } catch {
    // options are a courtesy record; fall back to the defaults
  }
  const out: AnalyzerOptions = {};
  for (const spec of SETTINGS) {
    const v = o[optionName(spec)];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[spec.key] = v;
  }
  return out;
}
