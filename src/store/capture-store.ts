/**
 * The capture writer. Record calls only queue plain objects (cheap, never blocking forwarding); a timer writes
 * the queue in one transaction per ≤ 100 ms or ≤ 1,000 rows. Redaction happens here, at write time. When the disk
 * cannot keep up, bodies are dropped first (never exchange metadata), and every failure — full disk, read-only
 * file, locked database — is reported through `onError` while forwarding carries on.
 */
import Database from 'better-sqlite3';
import type { AnalyzerEvent } from '../model/events.js';
import type { Exchange } from '../model/exchange.js';
import type { CheckinMessage, CommandMessage, DeviceFacts, MdmMessage, PushSeen } from '../model/message.js';
import { redactBody, redactHeaders, redactPath } from '../mdm/redact.js';
import { platformOf } from '../mdm/catalogue.js';
import { HEARTBEAT_MS, migrate, SCHEMA_VERSION } from './schema.js';
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { fileProblem, folderProblem } from '../util/file-errors.js';
import { Statements } from './statements.js';
import { BatchQueue } from './batch-queue.js';

import type { RestoredState, StoreOptions, WriterItem } from './writer-messages.js';

export type { RestoredState, StoreOptions };

export interface CaptureStore {
  readonly file: string;
  readonly ok: boolean;
  recordExchange(ex: Exchange, msg: MdmMessage | undefined, sessionId: string | undefined, dropBody?: boolean): void;
  recordEvent(ev: AnalyzerEvent): void;
  recordPush(p: PushSeen): void;
  flush(): void;
  close(): void;
  loadState(): RestoredState;
  /** Batches that could not be written. */
  readonly droppedBatches: number;
}

type Item = WriterItem;

const BATCH_ROWS = 1000;
const DEFAULT_MAX_QUEUE = 50_000;

export function openCaptureStore(file: string, opts: StoreOptions): CaptureStore {
  let opened = openDatabase(file, opts);
  // When the stream says watching stopped (its clock, which replays judge deadlines up to), the run stopped then.
  let stoppedAt: string | undefined;
  const write = (s: Statements, it: Item) => {
    if (it.kind === 'exchange') return writeExchange(s, it, opts);
    if (it.kind === 'push') return s.insertPush(it.p);
    s.insertEvent.run(it.ev.ts, it.ev.type, JSON.stringify(it.ev));
    s.applyEvent(it.ev);
    if (it.ev.type === 'capture' && it.ev.event === 'stop') stoppedAt = it.ev.ts;
  };
  const queue = new BatchQueue<Item>({
    batchRows: BATCH_ROWS,
    maxQueue: opts.maxQueue ?? DEFAULT_MAX_QUEUE,
    flushMs: opts.flushMs ?? 100,
    write: (batch) => {
      if (!opened) return;
      const { db, st } = opened;
      try {
        db.transaction(() => {
          for (const it of batch) write(st, it);
        })();
      } catch (e) {
        // The batch rolled back: bodies it stored are not in the file after all.
        st.forgetBodies();
        // One row that cannot be written (a hostile body, a full disk) must not take the others with it: they are
        // written again one by one, and only what fails is reported.
        if (batch.length === 1) throw e;
        const failed = { rows: 0, first: e as Error };
        for (const it of batch) {
          try {
            db.transaction(() => write(st, it))();
          } catch (one) {
            st.forgetBodies();
            if (failed.rows++ === 0) failed.first = one as Error;
          }
        }
        if (failed.rows > 0) opts.onError({ kind: 'store', message: `could not write ${failed.rows} rows to ${file}: ${failed.first.message}` });
      }
    },
    shed: (it) => {
      if (it.kind === 'exchange') it.dropBody = true;
    },
    onBacklog: (n) => opts.onError({ kind: 'store-backlog', message: `the capture writer is ${n} rows behind: bodies are being dropped (metadata is kept)` }),
    onWriteError: (rows, e) => opts.onError({ kind: 'store', message: `could not write ${rows} rows to ${file}: ${e.message}` }),
  });
  const push = (item: Item) => {
    if (opened) queue.push(item);
  };
  // A running proxy marks the file alive, so `mdmtap view` can tell a capture being written from one whose
  // proxy was killed (both have a run without a stop).
  const beat = () => {
    try {
      if (opened && opts.run) opened.st.setMeta.run('heartbeat_at', new Date().toISOString());
    } catch {
      // a missed mark only makes a viewer think the proxy is gone; the next one corrects it
    }
  };
  beat();
  const heartbeat = opts.run ? setInterval(beat, HEARTBEAT_MS) : undefined;
  heartbeat?.unref();

  return {
    file,
    get ok() {
      return opened !== undefined;
    },
    get droppedBatches() {
      return queue.droppedBatches;
    },
    recordExchange: (ex, msg, sessionId, dropBody) => push({ kind: 'exchange', ex, ...(msg ? { msg } : {}), ...(sessionId ? { sessionId } : {}), ...(dropBody ? { dropBody } : {}) }),
    recordEvent: (ev) => push({ kind: 'event', ev }),
    recordPush: (p) => push({ kind: 'push', p }),
    flush: () => queue.flush(),
    close: () => {
      if (heartbeat) clearInterval(heartbeat);
      if (!opened) return;
      queue.close();
      closeDatabase(file, opened, stoppedAt ?? new Date().toISOString(), opts);
      opened = undefined;
    },
    loadState: () => (opened ? opened.st.loadState() : { tokens: [], obligations: [], warnings: [] }),
  };
}

interface OpenDatabase {
  db: Database.Database;
  st: Statements;
  /** The `runs` row of this run, when it records one. */
  runId?: number;
}

/** Opens (or creates) the file, brings its schema up to date and records the run; undefined, reported, if it cannot. */
function openDatabase(file: string, opts: StoreOptions): OpenDatabase | undefined {
  let db: Database.Database | undefined;
  try {
    if (existsSync(file) && statSync(file).isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
    // A new capture is readable by its owner only (SQLite gives its -wal and -shm files the same mode): it holds
    // device identities, and with --keep-secrets every secret.
    if (!existsSync(file)) closeSync(openSync(file, 'wx', 0o600));
    db = new Database(file);
    refuseForeign(db);
    // 16 KB pages (new files only; an existing capture keeps its own). Each commit writes every page it touched
    // to the WAL in full, and most of what a batch touches is small rows spread over tables and indexes; large
    // bodies, which favoured 64 KB pages, are now written once (`bodies`). Measured under the bench's proxy load,
    // CPU per exchange of the whole process: 16 KB ~10 % below 64 KB, and a little below 4 KB.
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 2000');
    migrate(db);
    const st = new Statements(db);
    return { db, st, ...(opts.run ? { runId: recordRun(db, st, opts.run, opts.keepSecrets) } : {}) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'SQLITE_NOTADB' ? 'not an SQLite file' : e instanceof ForeignFileError ? e.message : (folderProblem(file) ?? fileProblem(e));
    opts.onError({ kind: 'store', message: `cannot open the capture ${file}: ${why}` });
    try {
      db?.close();
    } catch {
      // already unusable
    }
    return undefined;
  }
}

class ForeignFileError extends Error {}

/**
 * A file mdmtap did not create is left as it is: before anything is written (WAL mode alone rewrites the header),
 * an SQLite database with tables of its own, or one from a newer mdmtap, is refused.
 */
function refuseForeign(db: Database.Database): void {
  const v = db.pragma('user_version', { simple: true }) as number;
  if (v > SCHEMA_VERSION) throw new ForeignFileError(`written by a newer mdmtap (schema ${v})`);
  const tables = (db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number }).n;
  if (v === 0 && tables > 0) throw new ForeignFileError('an SQLite database that is not an mdmtap capture (mdmtap will not write into it)');
}

function recordRun(db: Database.Database, st: Statements, run: NonNullable<StoreOptions['run']>, keepSecrets: boolean): number {
  const started = new Date().toISOString();
  const options = JSON.stringify(run.options);
  const runId = Number(st.insertRun.run(started, run.version, options, keepSecrets ? 1 : 0).lastInsertRowid);
  // meta answers an auditor's first questions at a glance (`runs` keeps every start); keep_secrets, once yes,
  // stays yes: the file then holds raw secrets from that run on.
  db.transaction(() => {
    st.initMeta.run('created_at', started);
    st.initMeta.run('created_by', `mdmtap ${run.version}`);
    st.setMeta.run('mdmtap_version', run.version);
    st.setMeta.run('options', options);
    st.setMeta.run('started_at', started);
    st.setMeta.run('stopped_at', '');
    if (keepSecrets) st.setMeta.run('keep_secrets', 'yes');
    else st.initMeta.run('keep_secrets', 'no');
  })();
  return runId;
}

function closeDatabase(file: string, { db, st, runId }: OpenDatabase, stopped: string, opts: StoreOptions): void {
  if (runId !== undefined) {
    try {
      st.stopRun.run(stopped, runId);
      st.setMeta.run('stopped_at', stopped);
    } catch {
      // the run row is a courtesy; the capture itself is already written
    }
  }
  try {
    db.close();
  } catch (e) {
    opts.onError({ kind: 'store', message: `closing ${file}: ${(e as Error).message}` });
  }
}

function writeExchange(s: Statements, it: Extract<Item, { kind: 'exchange' }>, opts: StoreOptions): void {
  const { ex, msg } = it;
  const keep = opts.keepSecrets;
  const extra = opts.clientCertHeader ? [opts.clientCertHeader] : [];
  const withBodies = opts.bodies && !it.dropBody;
  const body = (bytes: Uint8Array, truncated: boolean) => {
    if (!withBodies) return { inline: null, ref: null };
    const raw = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return s.body(raw, truncated, (b) => {
      if (keep) return b;
      const out = redactBody(b, { truncated });
      return out === b ? b : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    });
  };
  const who = msg && 'identity' in msg && msg.identity ? msg.identity : undefined;
  const request = body(ex.requestBody, ex.requestTruncated);
  const response = body(ex.responseBody, ex.responseTruncated);
  s.insertExchange.run({
    id: ex.id,
    connection_id: ex.connectionId,
    started_at: new Date(ex.startedAt).toISOString(),
    ended_at: new Date(ex.endedAt).toISOString(),
    ended_ms: ex.endedAt,
    host: ex.host,
    method: ex.method,
    path: keep ? ex.path : redactPath(ex.path),
    endpoint: msg?.endpoint ?? null,
    udid: who?.udid ?? null,
    channel: who?.channel ?? null,
    user_id: who?.userId ?? null,
    message_type: msg?.endpoint === 'checkin' ? msg.messageType : null,
    status: msg?.endpoint === 'command' ? msg.status : null,
    command_uuid: msg?.endpoint === 'command' ? (msg.commandUUID ?? null) : null,
    reply_command_uuid: msg?.endpoint === 'command' && msg.reply.kind === 'command' ? msg.reply.commandUUID : null,
    request_type: msg?.endpoint === 'command' && msg.reply.kind === 'command' ? msg.reply.requestType : null,
    http_status: ex.status,
    error_kind: ex.error?.kind ?? null,
    error_message: ex.error?.message ?? null,
    session_id: it.sessionId ?? null,
    token_hash: msg?.endpoint === 'checkin' ? (msg.tokenHash ?? null) : null,
    token_prefix: msg?.endpoint === 'checkin' ? (msg.tokenPrefix ?? null) : null,
    push_magic_hash: msg?.endpoint === 'checkin' ? (msg.pushMagicHash ?? null) : null,
    request_headers: JSON.stringify(keep ? ex.requestHeaders : redactHeaders(ex.requestHeaders, extra)),
    response_headers: JSON.stringify(keep ? ex.responseHeaders : redactHeaders(ex.responseHeaders, extra)),
    request_body: request.inline,
    response_body: response.inline,
    request_body_ref: request.ref,
    response_body_ref: response.ref,
    request_size: ex.requestSize ?? ex.requestBody.length,
    response_size: ex.responseSize ?? ex.responseBody.length,
    request_truncated: ex.requestTruncated ? 1 : 0,
    response_truncated: ex.responseTruncated ? 1 : 0,
    bodies_dropped: it.dropBody ? 1 : 0,
    request_scan: ex.requestScan ? JSON.stringify(ex.requestScan) : null,
    response_scan: ex.responseScan ? JSON.stringify(ex.responseScan) : null,
    user_short_name: who?.userShortName ?? null,
    // Holds identities, hashes and statuses only (MdmMessage never carries a secret).
    message: msg ? JSON.stringify(msg) : null,
  });
  if (msg?.endpoint === 'checkin') s.upsertDeviceFromCheckin(msg as CheckinMessage);
  if (msg?.endpoint === 'command' && (msg as CommandMessage).device) {
    s.upsertDeviceFacts(msg.host, (msg as CommandMessage).identity, (msg as CommandMessage).device as DeviceFacts, platformOf((msg as CommandMessage).device), msg.ts);
  }
}
