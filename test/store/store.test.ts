import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as plist from 'plist';
import { openCaptureStore, type CaptureStore } from '../../src/store/capture-store.js';
import { openCaptureWriter } from '../../src/store/capture-writer.js';
import { BodyTap } from '../../src/proxy/body-tap.js';
import { keptBody } from '../../src/model/sole-copy.js';
import { DashboardStore } from '../../tui/state/dashboard-store.js';
import { dashboardSink } from '../../tui/sink.js';
import { openCaptureReadonly } from '../../src/store/reader.js';
import { exportCsv, exportHar, exportJsonl } from '../../src/store/export.js';
import { SCHEMA_VERSION } from '../../src/store/schema.js';
import { LivePipeline } from '../../src/live/pipeline.js';
import { storeSink } from '../../src/sinks/capture.js';
import type { Exchange } from '../../src/model/exchange.js';
import type { AnalyzerEvent } from '../../src/model/events.js';
import { parseHar } from '../../src/capture/har.js';
import { messagesOf, replay } from '../../src/replay/replayer.js';
import { loadCapture } from '../../src/replay/load.js';
import { openSqliteSource } from '../../src/store/sqlite-source.js';
import { openJsonlSource } from '../../src/capture/jsonl-source.js';
import type { CaptureSource } from '../../src/capture/source.js';
import { Replayer } from '../../src/replay/replayer.js';
import { secretTag, sha256Hex } from '../../src/mdm/hash.js';
import { fixture } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tls-peers.js';
import { checkin, commandBody, idle, status, UDID } from '../helpers/mdm-bodies.js';

const dirs: Array<{ remove(): void }> = [];
const stores: CaptureStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) d.remove();
});

function dir(): string {
  const d = tempDir('mdmtap-store-');
  dirs.push(d);
  return d.dir;
}

let seq = 0;
const T0 = Date.parse('2026-11-25T09:00:00Z');
function exchange(requestBody: Buffer, responseBody: Buffer = Buffer.alloc(0), at = seq * 100, over: Partial<Exchange> = {}): Exchange {
  seq++;
  return {
    id: `x${seq}`, connectionId: 'c1', startedAt: T0 + at, endedAt: T0 + at + 10, host: 'mdm.example.com', method: 'PUT', path: '/mdm',
    requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm', 'mdm-signature': 'SIGNATURE-SECRET-abcdef' },
    requestBody, requestTruncated: false, status: 200, responseHeaders: {}, responseBody, responseTruncated: false, ...over,
  };
}

/** `mdmtap export --format har` of a capture, as text. */
async function harExport(file: string): Promise<string> {
  const r = openCaptureReadonly(file);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await exportHar(r, {}, out);
  r.close();
  return Buffer.concat(chunks).toString();
}

/** The fixture secrets in every form they could leak: text, base64 and hex. */
function tokenUpdateSecrets(body: Buffer): string[] {
  const v = plist.parse(body.toString()) as Record<string, unknown>;
  const out: string[] = [String(v.PushMagic)];
  const tok = Buffer.from(v.Token as Uint8Array);
  out.push(tok.toString('base64'), tok.toString('hex'));
  return out.filter((s) => s.length >= 8);
}

/** A live pipeline writing to a capture: the same wiring `mdmtap start` uses. */
function livePipeline(file: string, grace = 60_000) {
  let now = T0;
  const pipeline = new LivePipeline({ pushGraceMs: grace, now: () => now });
  const errors: string[] = [];
  const store = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(`${e.kind}: ${e.message}`), run: { version: 'test', options: {} } });
  pipeline.addSink(storeSink(store));
  const events: AnalyzerEvent[] = [];
  pipeline.addSink({ event: (e) => events.push(e) });
  return { pipeline, store, events, errors, setNow: (t: number) => (now = t) };
}

function strandedTraffic(): Exchange[] {
  return [
    exchange(fixture('nanomdm/TokenUpdate.1.plist'), Buffer.alloc(0), 0, { requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm-checkin' } }),
    exchange(idle(), commandBody('A-1', 'InstallProfile'), 100),
    exchange(status('NotNow', 'A-1'), commandBody('B-2', 'DeviceLock', { PIN: '918273' }), 200),
    exchange(status('Acknowledged', 'B-2'), Buffer.alloc(0), 300),
  ];
}

describe('schema', () => {
  it('creates the tables and sets user_version; migrates an empty older file', () => {
    const file = join(dir(), 'a.sqlite');
    const s = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: () => {} });
    s.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['exchanges', 'sessions', 'devices', 'obligations', 'warnings', 'pushes', 'events', 'meta', 'runs']));
    db.close();
    const old = join(dir(), 'v0.sqlite');
    new Database(old).close();
    const s2 = openCaptureStore(old, { keepSecrets: false, bodies: true, onError: () => {} });
    s2.close();
    const db2 = new Database(old, { readonly: true });
    expect(db2.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db2.close();
  });
});

describe('each distinct body stored once', () => {
  it('a repeated body is kept once, and every reader (replay, exports, SQL view) still sees it per exchange', async () => {
    const file = join(dir(), 'bodies.sqlite');
    const live = livePipeline(file);
    const apps = plist.build({ UDID: 'BODY-UDID', Status: 'Acknowledged', CommandUUID: 'L', InstalledApplicationList: Array.from({ length: 300 }, (_, i) => ({ Identifier: `com.example.app${i}`, Name: `App ${i}`, Version: '1.0' })) } as plist.PlistValue);
    for (let i = 0; i < 20; i++) live.pipeline.exchange(exchange(Buffer.from(apps.replace('<string>L</string>', `<string>L${i % 2}</string>`)), Buffer.alloc(0), i * 1000));
    live.store.close();
    const db = new Database(file, { readonly: true });
    // Two distinct report bodies (L0 and L1), each once; empty replies stay in the row.
    expect(db.prepare('SELECT count(*) AS n, sum(size) AS bytes FROM bodies').get()).toEqual({ n: 2, bytes: 2 * Buffer.byteLength(apps) + 2 });
    expect(db.prepare('SELECT count(DISTINCT request_body_ref) AS n FROM exchanges').get()).toEqual({ n: 2 });
    const view = db.prepare('SELECT id, request_body, response_body FROM exchange_bodies').all() as Array<{ id: string; request_body: Buffer; response_body: Buffer }>;
    db.close();
    expect(view.filter((r) => r.request_body.includes('<string>L0</string>'))).toHaveLength(10);
    expect(view.filter((r) => r.request_body.includes('<string>L1</string>'))).toHaveLength(10);
    expect(view.every((r) => r.request_body.length === Buffer.byteLength(apps) + 1 && r.response_body.length === 0)).toBe(true);
    // Exports and the replay read through the table: each exchange has its own body back.
    const har = JSON.parse(await harExport(file)) as { log: { entries: Array<{ request: { postData?: { text: string } } }> } };
    const texts = har.log.entries.map((e) => e.request.postData?.text ?? '');
    expect(texts.filter((t) => t.includes('<string>L0</string>'))).toHaveLength(10);
    expect(texts.filter((t) => t.includes('<string>L1</string>'))).toHaveLength(10);
    const r = openCaptureReadonly(file);
    const back = [...r.exchanges()];
    r.close();
    expect(back.map((x) => Buffer.from(x.requestBody).toString().includes('com.example.app299'))).toEqual(Array(20).fill(true));
  });

  it('a capture written before the body table keeps its bodies in the row, and is read as before', () => {
    const file = join(dir(), 'v4.sqlite');
    const db = new Database(file);
    db.pragma('user_version = 0');
    db.close();
    // Written by this version, then turned into an older file's shape: bodies in the row, no references.
    const live = livePipeline(file);
    live.pipeline.exchange(exchange(idle(), commandBody('OLD-1', 'ProfileList')));
    live.store.close();
    const w = new Database(file);
    w.exec(`UPDATE exchanges SET request_body = (SELECT data FROM bodies WHERE id = request_body_ref), response_body = (SELECT data FROM bodies WHERE id = response_body_ref), request_body_ref = NULL, response_body_ref = NULL; DELETE FROM bodies;`);
    w.close();
    const r = openCaptureReadonly(file);
    const [x] = [...r.exchanges()];
    r.close();
    expect(Buffer.from(x.responseBody).toString()).toContain('OLD-1');
  });
});

describe('meta', () => {
  it('records who created the file and the last run (version, options, start, stop); keep_secrets once yes stays yes', () => {
    const file = join(dir(), 'meta.sqlite');
    const meta = () => {
      const db = new Database(file, { readonly: true });
      const m = Object.fromEntries((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
      db.close();
      return m;
    };
    openCaptureStore(file, { keepSecrets: false, bodies: true, onError: () => {}, run: { version: '1.0.0', options: { port: 8080 } } }).close();
    const first = meta();
    expect(first).toMatchObject({ created_by: 'mdmtap 1.0.0', mdmtap_version: '1.0.0', options: '{"port":8080}', keep_secrets: 'no' });
    expect(Date.parse(first.stopped_at!)).toBeGreaterThanOrEqual(Date.parse(first.started_at!));
    const live = openCaptureStore(file, { keepSecrets: true, bodies: true, onError: () => {}, run: { version: '1.1.0', options: { port: 9090 } } });
    expect(meta()).toMatchObject({ created_by: 'mdmtap 1.0.0', created_at: first.created_at, mdmtap_version: '1.1.0', stopped_at: '', keep_secrets: 'yes' });
    live.close();
    openCaptureStore(file, { keepSecrets: false, bodies: true, onError: () => {}, run: { version: '1.1.0', options: {} } }).close();
    expect(meta().keep_secrets).toBe('yes');
  });
});

describe('writing a live capture', () => {
  it('records exchanges, sessions, devices, obligations and warnings, with no secret in the database or WAL', () => {
    const file = join(dir(), 'cap.sqlite');
    const { pipeline, store, errors, setNow } = livePipeline(file, 60_000);
    const traffic = strandedTraffic();
    for (const ex of traffic) pipeline.exchange(ex);
    setNow(T0 + 300 + 60_000 + 5_000);
    pipeline.tick();
    store.flush();
    // Readable by the owner only, the WAL too: it holds identities (and with --keep-secrets, secrets).
    expect(statSync(file).mode & 0o777).toBe(0o600);
    if (existsSync(file + '-wal')) expect(statSync(file + '-wal').mode & 0o777).toBe(0o600);
    // Read the raw files while the writer still holds them (WAL not yet checkpointed).
    const raw = Buffer.concat([readFileSync(file), existsSync(file + '-wal') ? readFileSync(file + '-wal') : Buffer.alloc(0)]).toString('latin1');
    for (const secret of [...tokenUpdateSecrets(fixture('nanomdm/TokenUpdate.1.plist')), '918273', 'SIGNATURE-SECRET-abcdef']) {
      expect(raw.includes(secret), secret).toBe(false);
    }
    const db = new Database(file, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM exchanges').get() as { n: number }).n).toBe(4);
    expect(db.prepare('SELECT outcome, last_status FROM sessions').all()).toEqual([{ outcome: 'stranded', last_status: 'Acknowledged' }]);
    expect(db.prepare('SELECT state, outcome FROM obligations').all()).toEqual([{ state: 'warned', outcome: 'stranded' }]);
    expect(db.prepare('SELECT rule, severity, resolved_at FROM warnings').all()).toEqual([{ rule: 'notnow-no-push', severity: 'warning', resolved_at: null }]);
    const dev = db.prepare('SELECT token_hash, token_prefix, push_magic_hash FROM devices').get() as Record<string, string>;
    expect(dev.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(dev.token_prefix).toMatch(/^[0-9a-f]{8}$/);
    const body = (db.prepare(`SELECT b.request_body FROM exchanges e JOIN exchange_bodies b ON b.id = e.id WHERE e.message_type = 'TokenUpdate'`).get() as { request_body: Buffer }).request_body.toString();
    expect(body).toContain('&lt;redacted:');
    expect(body).toContain('TokenUpdate');
    db.close();
    expect(errors).toEqual([]);
  });

  it('loadState gives back tokens, open obligations with their original deadlines, and unresolved warnings', () => {
    const file = join(dir(), 'cap.sqlite');
    const live = livePipeline(file, 60_000);
    for (const ex of strandedTraffic()) live.pipeline.exchange(ex);
    live.store.close();
    const again = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: () => {} });
    stores.push(again);
    const st = again.loadState();
    expect(st.tokens).toHaveLength(1);
    expect(st.tokens[0].who).toMatchObject({ channel: 'device', host: 'mdm.example.com' });
    expect(st.obligations).toHaveLength(1);
    expect(st.obligations[0].deadline).toBe(T0 + 310 + 60_000);
    expect(st.obligations[0].commandUUIDs).toEqual(['A-1']);
    expect(st.warnings).toEqual([]);
  });

  it('lets a reader in while the writer writes', () => {
    const file = join(dir(), 'cap.sqlite');
    const s = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: () => {} });
    stores.push(s);
    s.recordExchange(exchange(idle()), undefined, undefined);
    s.flush();
    const r = openCaptureReadonly(file);
    expect([...r.exchanges()]).toHaveLength(1);
    s.recordExchange(exchange(idle()), undefined, undefined);
    s.flush();
    expect([...r.exchanges()]).toHaveLength(2);
    r.close();
  });

  it('a capture of two runs replays as live judged it: a session open at the stop is pending, not timed out, and its rest is partial', async () => {
    const file = join(dir(), 'cap.sqlite');
    const live: AnalyzerEvent[] = [];
    // Run 1: the server keeps going after a NotNow; mdmtap stops before the device reports on B.
    const one = livePipeline(file);
    one.setNow(T0 + 50);
    one.pipeline.start();
    one.setNow(T0 + 300);
    one.pipeline.exchange(exchange(idle(), commandBody('A-1', 'InstallProfile'), 100));
    one.pipeline.exchange(exchange(status('NotNow', 'A-1'), commandBody('B-2', 'DeviceLock'), 200));
    // Another device's session ends on NotNow before the stop: the refused command is owed again later — which a
    // restart forgets live, and so must a replay.
    const other = (b: Buffer) => Buffer.from(b.toString().replaceAll(UDID, 'OTHER-UDID'));
    one.pipeline.exchange(exchange(other(idle()), commandBody('C-3', 'ProfileList'), 220));
    one.pipeline.exchange(exchange(other(status('NotNow', 'C-3')), Buffer.alloc(0), 240));
    await one.pipeline.close();
    live.push(...one.events);
    // Run 2, five minutes later: the device's report on B ends the session it began before.
    const two = livePipeline(file);
    two.setNow(T0 + 298_000);
    two.pipeline.start();
    two.setNow(T0 + 300_000);
    two.pipeline.exchange(exchange(status('Acknowledged', 'B-2'), Buffer.alloc(0), 299_000));
    two.pipeline.exchange(exchange(other(idle()), Buffer.alloc(0), 299_500));
    await two.pipeline.close();
    live.push(...two.events);

    const replay = async (source: CaptureSource) => {
      const replayer = new Replayer({ pushGraceMs: 60_000 });
      const out: AnalyzerEvent[] = [];
      for await (const batch of source.items()) for (const item of batch) out.push(...replayer.feed(item));
      out.push(...replayer.finish(source.observedUntil()).events);
      source.close();
      return out;
    };
    const jsonl = join(dir(), 'export.jsonl');
    const reader = openCaptureReadonly(file);
    const out = createWriteStream(jsonl);
    await exportJsonl(reader, {}, out);
    await new Promise((r) => out.end(r));
    reader.close();
    const verdicts = (evs: AnalyzerEvent[]) =>
      evs.flatMap((e) => (e.type === 'session' && e.event !== 'start' ? [`${e.udid}:${e.event}:${e.event === 'end' ? e.outcome : ''}${e.partial ? ':partial' : ''}`] : e.type === 'warning' ? [e.rule] : [])).sort();
    expect(verdicts(live)).toEqual([`${UDID}:end:clean:partial`, `${UDID}:pending:`, 'OTHER-UDID:end:clean', 'OTHER-UDID:end:ended-on-notnow']);
    expect(verdicts(await replay(openSqliteSource(file)))).toEqual(verdicts(live));
    expect(verdicts(await replay(await openJsonlSource(jsonl)))).toEqual(verdicts(live));
    // A first run that was killed leaves no stop line: the next run's start ends it.
    const lines = readFileSync(jsonl, 'utf8').split('\n');
    const firstStop = lines.findIndex((l) => l.includes('"type":"capture"') && l.includes('"event":"stop"'));
    const killed = join(dir(), 'killed.jsonl');
    writeFileSync(killed, lines.filter((_, i) => i !== firstStop).join('\n'));
    expect(verdicts(await replay(await openJsonlSource(killed)))).toEqual(verdicts(live));
    const killedDb = join(dir(), 'killed.sqlite');
    writeFileSync(killedDb, readFileSync(file));
    const raw = new Database(killedDb);
    raw.prepare('UPDATE runs SET stopped_at = NULL WHERE id = (SELECT min(id) FROM runs)').run();
    // Runs are stamped by the wall clock; this test's traffic by its own.
    raw.prepare('UPDATE runs SET started_at = ? WHERE id = (SELECT max(id) FROM runs)').run(new Date(T0 + 298_000).toISOString());
    raw.close();
    expect(verdicts(await replay(openSqliteSource(killedDb)))).toEqual(verdicts(live));
  });

  it('a row that cannot be written costs only itself, not the batch it was in', () => {
    const file = join(dir(), 'cap.sqlite');
    const errors: string[] = [];
    const s = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.message) });
    stores.push(s);
    s.recordExchange(exchange(idle()), undefined, undefined);
    // An event that cannot be serialised (a bigint) fails its own insert.
    s.recordEvent({ type: 'error', ts: new Date(1_700_000_000_000).toISOString(), kind: 'internal', message: 'x', detail: 1n } as unknown as AnalyzerEvent);
    s.recordExchange(exchange(idle()), undefined, undefined);
    s.flush();
    const r = openCaptureReadonly(file);
    expect([...r.exchanges()]).toHaveLength(2);
    r.close();
    expect(errors).toEqual([expect.stringMatching(/^could not write 1 rows to .*BigInt/)]);
  });

  it('a capture that cannot be created gives one clear error, records nothing, and record calls keep working', () => {
    // Failures root cannot bypass (a read-only folder would not stop it): a path under a regular file (ENOTDIR)
    // and a path that is a folder.
    const d = dir();
    const notAFolder = join(d, 'plain-file');
    writeFileSync(notAFolder, 'not a folder');
    const aFolder = join(d, 'a-folder');
    mkdirSync(aFolder);
    for (const file of [join(notAFolder, 'cap.sqlite'), aFolder]) {
      const errors: string[] = [];
      const s = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(`${e.kind}: ${e.message}`) });
      stores.push(s);
      expect(s.ok, file).toBe(false);
      expect(() => {
        s.recordExchange(exchange(idle()), undefined, undefined);
        s.recordEvent({ type: 'error', ts: new Date().toISOString(), kind: 'x', message: 'y' });
        s.flush();
      }).not.toThrow();
      expect(errors, file).toHaveLength(1);
      expect(errors[0]).toMatch(/^store: cannot open the capture .*: (a part of the path is not a directory|it is a directory)$/);
      expect(errors[0]).not.toContain('\n');
    }
    expect(readFileSync(notAFolder, 'utf8')).toBe('not a folder');
  });

  it('a corrupt capture file gives an error, not a crash', () => {
    const file = join(dir(), 'bad.sqlite');
    writeFileSync(file, 'SQLite format 3\0' + 'x'.repeat(5000));
    const errors: string[] = [];
    const s = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.kind) });
    stores.push(s);
    s.recordExchange(exchange(idle()), undefined, undefined);
    s.flush();
    expect(errors).toEqual(['store']);
  });

  it('past the queue bound drops bodies first, keeps every exchange row, and reports once', () => {
    const file = join(dir(), 'cap.sqlite');
    const errors: string[] = [];
    const s = openCaptureStore(file, { keepSecrets: false, bodies: true, maxQueue: 50, onError: (e) => errors.push(e.kind) });
    for (let i = 0; i < 120; i++) s.recordExchange(exchange(idle()), undefined, undefined);
    s.close();
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT count(*) AS n, sum(bodies_dropped) AS dropped FROM exchanges').get() as { n: number; dropped: number };
    db.close();
    expect(rows.n).toBe(120);
    expect(rows.dropped).toBeGreaterThan(0);
    expect(errors).toEqual(['store-backlog']);
  });
});

describe('reading back: analyze and export', () => {
  async function capture(): Promise<{ file: string; liveRules: string[] }> {
    const file = join(dir(), 'cap.sqlite');
    const live = livePipeline(file, 60_000);
    for (const ex of strandedTraffic()) live.pipeline.exchange(ex);
    live.setNow(T0 + 70_000);
    live.pipeline.tick();
    // The device comes back later: the warning resolves.
    live.pipeline.exchange(exchange(idle(), Buffer.alloc(0), 90_000));
    live.store.close();
    return { file, liveRules: live.events.filter((e) => e.type === 'warning' || e.type === 'resolved').map((e) => `${e.type}:${(e as { rule: string }).rule}`) };
  }

  it('analyze of the SQLite capture gives the same warnings as live', async () => {
    const { file, liveRules } = await capture();
    // The device's return resolves the warning, and the server not re-sending InstallProfile then is its own finding.
    expect(liveRules).toEqual(['warning:notnow-no-push', 'resolved:notnow-no-push', 'warning:notnow-not-resent']);
    const cap = await loadCapture(file);
    const { events } = replay(cap.messages, cap.pushes, { pushGraceMs: 60_000 }, cap.lastTs);
    expect(events.filter((e) => e.type === 'warning' || e.type === 'resolved').map((e) => `${e.type}:${(e as { rule: string }).rule}`)).toEqual(liveRules);
    // The token hash survived redaction: the replayed TokenUpdate still maps to the device.
    expect(events.find((e) => e.type === 'exchange' && e.messageType === 'TokenUpdate')).toMatchObject({ tokenHex: expect.stringMatching(/^[0-9a-f]{8}…$/) });
  });

  it('exports HAR that parses back to the same warnings, redacted', async () => {
    const { file, liveRules } = await capture();
    const text = await harExport(file);
    const doc = JSON.parse(text);
    expect(doc.log.version).toBe('1.2');
    expect(doc.log.creator.name).toBe('mdmtap');
    expect(doc.log.entries).toHaveLength(5);
    // Text bodies are written as text (HAR 1.2), so they are searched as they are.
    const decoded = doc.log.entries.map((e: any) => e.request.postData?.text ?? '').join('\n');
    for (const secret of [...tokenUpdateSecrets(fixture('nanomdm/TokenUpdate.1.plist')), '918273']) expect(decoded.includes(secret) || text.includes(secret), secret).toBe(false);
    expect(text).not.toContain('SIGNATURE-SECRET-abcdef');
    const exchanges = parseHar(text);
    const { events } = replay(messagesOf(exchanges), [], { pushGraceMs: 60_000 }, exchanges.at(-1)!.endedAt);
    expect(events.filter((e) => e.type === 'warning' || e.type === 'resolved').map((e) => `${e.type}:${(e as { rule: string }).rule}`)).toEqual(liveRules);
  });

  it('carries pushes in the HAR, so a push-rescued session stays rescued when the HAR is analysed', async () => {
    const file = join(dir(), 'push.sqlite');
    const live = livePipeline(file, 60_000);
    const token = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex');
    const tokenHex = token.toString('hex');
    const traffic = [
      exchange(checkin('TokenUpdate', { Token: token, PushMagic: 'MAGIC-7', Topic: 'com.apple.mgmt.test' }), Buffer.alloc(0), 0, { requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm-checkin' } }),
      ...strandedTraffic().slice(1),
    ];
    for (const ex of traffic) live.pipeline.exchange(ex);
    const pushedAt = traffic.at(-1)!.endedAt + 5_000;
    live.setNow(pushedAt);
    live.pipeline.push({ ts: pushedAt, tokenHash: sha256Hex(tokenHex), tokenPrefix: tokenHex.slice(0, 8), pushMagicHash: sha256Hex('MAGIC-7'), apnsStatus: 200 });
    live.setNow(pushedAt + 120_000);
    live.pipeline.tick();
    // A clean stop: the stream (and the capture) say watching ended here, so replays judge no further.
    await live.pipeline.close();
    const verdicts = (events: AnalyzerEvent[]) => events.filter((e) => e.type === 'obligation' || e.type === 'warning').map((e) => `${e.type}:${'event' in e ? `${e.event}${'by' in e && e.by ? `/${e.by}` : ''}` : (e as { rule: string }).rule}`);
    expect(verdicts(live.events)).toEqual(['obligation:open', 'obligation:discharged/push']);

    const text = await harExport(file);
    expect(text).not.toContain(tokenHex);
    const har = join(dir(), 'push.har');
    writeFileSync(har, text);
    const loaded = await loadCapture(har);
    expect(loaded.pushes).toHaveLength(1);
    expect(loaded.exchanges).toBe(4);
    const { events } = replay(loaded.messages, loaded.pushes, { pushGraceMs: 60_000 }, loaded.lastTs);
    expect(verdicts(events)).toEqual(verdicts(live.events));
  });

  it('exports the stored events as JSON lines and exchanges as CSV with proper quoting, filtered by device and time', async () => {
    const { file } = await capture();
    const r = openCaptureReadonly(file);
    const collect = async (fn: typeof exportCsv, filter = {}) => {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      await fn(r, filter, out);
      return Buffer.concat(chunks).toString();
    };
    const jsonl = (await collect(exportJsonl)).trim().split('\n').map((l) => JSON.parse(l));
    expect(jsonl.some((e) => e.type === 'warning' && e.rule === 'notnow-no-push')).toBe(true);
    const csv = await collect(exportCsv);
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe('time,udid,channel,user_id,host,method,path,endpoint,message_type,status,command_uuid,request_type,http_status,error,session_id,session_outcome,request_bytes,response_bytes');
    expect(lines).toHaveLength(6);
    expect(lines.some((l) => l.includes(',stranded,'))).toBe(true);
    expect((await collect(exportCsv, { udid: 'nobody' })).trim().split('\r\n')).toHaveLength(1);
    expect((await collect(exportCsv, { since: T0 + 50_000 })).trim().split('\r\n')).toHaveLength(2);
    r.close();
    const { csvField } = await import('../../src/store/export.js');
    expect(csvField('a,"b"\nc')).toBe('"a,""b""\nc"');
    expect(csvField(' x')).toBe('" x"');
    expect(csvField(UDID)).toBe(UDID);
  });
});

describe("the README's auditor queries", () => {
  it('run on a real capture and find the stranded session', () => {
    const file = join(dir(), 'cap.sqlite');
    const live = livePipeline(file, 60_000);
    for (const ex of strandedTraffic()) live.pipeline.exchange(ex);
    live.setNow(T0 + 70_000);
    live.pipeline.tick();
    live.store.close();
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /```sql\n([\s\S]*?)```/.exec(readme)![1];
    const queries = block.split(';').map((q) => q.replace(/^--.*$/gm, '').trim()).filter(Boolean);
    expect(queries.length).toBeGreaterThanOrEqual(5);
    const db = new Database(file, { readonly: true });
    const results = queries.map((q) => db.prepare(q).all());
    db.close();
    expect(results[0]).toEqual([expect.objectContaining({ stranded: 1 })]);
    expect(results[1]).toEqual([expect.objectContaining({ rule: 'notnow-no-push' })]);
    expect(results[2]).toEqual([expect.objectContaining({ command_uuid: 'A-1', request_type: 'InstallProfile' })]);
    expect(results.at(-3)).toEqual([expect.objectContaining({ returns: 0 })]);
    expect(results.at(-2)).toEqual([]);
    expect(results.at(-1)).toEqual(expect.arrayContaining([{ key: 'created_by', value: 'mdmtap test' }, { key: 'keep_secrets', value: 'no' }]));
  });

  it('the DDM queries find the declarations a device reports invalid, with the reasons, and its last sync', () => {
    const file = join(dir(), 'ddm.sqlite');
    const live = livePipeline(file, 60_000);
    const ddm = (endpoint: string, data?: Buffer) =>
      Buffer.from(plist.build({ MessageType: 'DeclarativeManagement', UDID: 'DDM-UDID', Endpoint: endpoint, ...(data ? { Data: data } : {}) } as plist.PlistValue));
    const items = { Declarations: { Activations: [], Configurations: [{ Identifier: 'c1', ServerToken: 's1' }], Assets: [], Management: [] }, DeclarationsToken: 'T1' };
    live.pipeline.exchange(exchange(ddm('declaration-items'), Buffer.from(JSON.stringify(items)), 0, { requestHeaders: {} }));
    live.pipeline.exchange(exchange(ddm('status', fixture('kmfddm/status.invalid-configurations.json')), Buffer.alloc(0), 100, { requestHeaders: {} }));
    live.store.close();
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = [...readme.matchAll(/```sql\n([\s\S]*?)```/g)].find((m) => m[1].includes('FROM declarations'))![1];
    const queries = block.split(';').map((q) => q.replace(/^--.*$/gm, '').trim()).filter(Boolean);
    const db = new Database(file, { readonly: true });
    const [invalid, syncs] = queries.map((q) => db.prepare(q).all() as Array<Record<string, unknown>>);
    db.close();
    expect(invalid.map((r) => [r.udid, r.kind, r.identifier])).toEqual([
      ['DDM-UDID', 'configuration', '0FCD2F56-D5BC-48EA-B98D-E0CCC0C6F9E0'],
      ['DDM-UDID', 'configuration', '4D6F8451-C089-4E65-A615-7C6EFF154F72'],
    ]);
    expect(JSON.parse(invalid[0].reasons as string)).toEqual([{ code: 'Error.ConfigurationCannotBeApplied', description: 'Configuration cannot be applied' }]);
    expect(syncs).toEqual([{ udid: 'DDM-UDID', last_sync: new Date(T0 + 10).toISOString() }]);
  });
});

describe('the capture writer thread (what mdmtap start uses)', () => {
  const workerUrl = new URL('../../dist/src/store/writer-thread.js', import.meta.url);

  it('writes exchanges and events from another thread, redacted, and hands back the state to resume from', async () => {
    const file = join(dir(), 'cap.sqlite');
    const errors: string[] = [];
    const w = await openCaptureWriter(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.message) }, { workerUrl });
    expect(w).toBeDefined();
    const tu = fixture('nanomdm/TokenUpdate.1.plist');
    const ex = exchange(tu);
    w!.recordExchange(ex, undefined, undefined);
    w!.recordEvent({ type: 'error', ts: new Date(T0).toISOString(), kind: 'test', message: 'hello' });
    await w!.close();
    expect(errors).toEqual([]);
    const db = new Database(file, { readonly: true });
    const row = db.prepare('SELECT request_body FROM exchange_bodies WHERE id = ?').get(ex.id) as { request_body: Buffer };
    const stored = row.request_body.toString();
    for (const s of tokenUpdateSecrets(tu)) expect(stored).not.toContain(s);
    expect(stored).toContain('TokenUpdate');
    // Tagged under the run's key, handed to the thread: the dashboard's tag for the same value is the same.
    const magic = String((plist.parse(tu.toString()) as Record<string, unknown>).PushMagic);
    expect(stored).toContain(secretTag(magic).replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    expect((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n).toBe(1);
    db.close();
    const again = await openCaptureWriter(file, { keepSecrets: false, bodies: true, onError: () => {} }, { workerUrl });
    expect(again!.state).toEqual({ tokens: [], obligations: [], warnings: [] });
    await again!.close();
  });

  it('moves large bodies to the writer as copies, stores each once, and redacts a repeated secret-bearing body every time', async () => {
    const file = join(dir(), 'cap.sqlite');
    const errors: string[] = [];
    const w = await openCaptureWriter(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.message) }, { workerUrl });
    // Over the 64 KB from which bodies are moved to the writer thread rather than cloned.
    const a = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 251));
    const b = Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 13) % 241));
    const tu = fixture('nanomdm/TokenUpdate.1.plist');
    const sent = [exchange(a), exchange(b), exchange(Buffer.from(a)), exchange(tu), exchange(Buffer.from(tu))];
    for (const ex of sent) w!.recordExchange(ex, undefined, undefined);
    // What mdmtap keeps in memory (the dashboard, other sinks) is intact: a copy went to the thread, not the original.
    expect(sent[0].requestBody.length).toBe(200_000);
    expect(Buffer.from(sent[0].requestBody).equals(a)).toBe(true);
    await w!.close();
    expect(errors).toEqual([]);
    const db = new Database(file, { readonly: true });
    const body = (id: string) => (db.prepare('SELECT request_body FROM exchange_bodies WHERE id = ?').get(id) as { request_body: Buffer }).request_body;
    expect(body(sent[0].id).equals(a)).toBe(true);
    expect(body(sent[1].id).equals(b)).toBe(true);
    expect(body(sent[2].id).equals(a)).toBe(true);
    // The second TokenUpdate is the same bytes as the first: it must be stored redacted too, not as it arrived.
    for (const ex of sent.slice(3)) {
      const stored = body(ex.id).toString();
      expect(stored).toContain('TokenUpdate');
      for (const secret of tokenUpdateSecrets(tu)) expect(stored).not.toContain(secret);
    }
    const refs = db.prepare('SELECT request_body_ref AS r FROM exchanges ORDER BY rowid').all() as Array<{ r: number }>;
    expect(refs[2].r).toBe(refs[0].r);
    expect(refs[4].r).toBe(refs[3].r);
    expect((db.prepare('SELECT count(*) AS n FROM bodies').get() as { n: number }).n).toBe(3);
    db.close();
  });

  it("moves the proxy's own joined copy of a large body to the writer without copying it, and copies a chunk it does not own", async () => {
    const file = join(dir(), 'cap.sqlite');
    const errors: string[] = [];
    const w = await openCaptureWriter(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.message) }, { workerUrl });
    const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 11) % 253));
    // As the proxy takes it: 16 KB chunks, joined once the message is complete.
    const joined = new BodyTap(1_000_000);
    for (let at = 0; at < body.length; at += 16_384) joined.write(body.subarray(at, at + 16_384));
    // One chunk that is a slice of a larger buffer someone else still reads (Node's read buffer, say).
    const shared = Buffer.concat([body, Buffer.from('the next message on the connection')]);
    const single = new BodyTap(1_000_000);
    single.write(shared.subarray(0, body.length));
    const moved = exchange(joined.bytes() as Buffer);
    const copied = exchange(single.bytes() as Buffer);
    w!.recordExchange(moved, undefined, undefined);
    w!.recordExchange(copied, undefined, undefined);
    await new Promise((r) => setImmediate(r));
    // Posted: the joined copy now lives in the writer's thread (its memory left this one); the shared one stayed.
    expect(moved.requestBody.length).toBe(0);
    expect(shared.length).toBe(body.length + 34);
    expect(shared.subarray(0, body.length).equals(body)).toBe(true);
    await w!.close();
    expect(errors).toEqual([]);
    const db = new Database(file, { readonly: true });
    const stored = db.prepare('SELECT request_body FROM exchange_bodies ORDER BY id').all() as Array<{ request_body: Buffer }>;
    db.close();
    expect(stored).toHaveLength(2);
    for (const r of stored) expect(r.request_body.equals(body)).toBe(true);
  });

  it("keeps a large body whole in the dashboard's detail view while the capture writer takes the proxy's copy", async () => {
    const file = join(dir(), 'cap.sqlite');
    const errors: string[] = [];
    const w = await openCaptureWriter(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.message) }, { workerUrl });
    const apps = Array.from({ length: 1500 }, (_, i) => ({ Identifier: `com.example.app${i}`, Name: `App ${i}`, Version: '1.0' }));
    const body = status('Acknowledged', 'C-apps', { InstalledApplicationList: apps });
    expect(body.length).toBeGreaterThan(100_000);
    const tap = new BodyTap(1_000_000);
    for (let at = 0; at < body.length; at += 16_384) tap.write(body.subarray(at, at + 16_384));
    const ex = exchange(tap.bytes() as Buffer);
    const pipeline = new LivePipeline({ now: () => ex.endedAt });
    pipeline.addSink(storeSink(w!));
    const dashboard = new DashboardStore({ now: () => ex.endedAt });
    pipeline.addSink(dashboardSink(dashboard));
    pipeline.exchange(ex);
    await new Promise((r) => setImmediate(r));
    expect(ex.requestBody.length).toBe(0);
    const shown = dashboard.detail(ex.id)?.request as { InstalledApplicationList?: unknown[] } | undefined;
    expect(shown?.InstalledApplicationList).toHaveLength(1500);
    await pipeline.close();
    expect(errors).toEqual([]);
    const db = new Database(file, { readonly: true });
    const stored = (db.prepare('SELECT request_body FROM exchange_bodies WHERE id = ?').get(ex.id) as { request_body: Buffer }).request_body;
    db.close();
    expect(stored.equals(body)).toBe(true);
  });

  it('copies a large body a sink keeps only while a capture writer may move it', async () => {
    const tap = new BodyTap(1_000_000);
    const body = Buffer.alloc(200_000, 7);
    for (let at = 0; at < body.length; at += 16_384) tap.write(body.subarray(at, at + 16_384));
    const joined = tap.bytes();
    // No capture (--no-db): nothing will move the proxy's copy, so keeping it costs no copy.
    expect(keptBody(joined)).toBe(joined);
    const w = await openCaptureWriter(join(dir(), 'cap.sqlite'), { keepSecrets: false, bodies: true, onError: () => {} }, { workerUrl });
    const kept = keptBody(joined);
    expect(kept).not.toBe(joined);
    expect(Buffer.from(kept).equals(body)).toBe(true);
    await w!.close();
    expect(keptBody(joined)).toBe(joined);
  });

  it('holds on to no body once the writer thread has died', async () => {
    // A writer that opens, then fails for good (as a thread that hit a fatal fault would).
    const dying = new URL(`data:text/javascript,${encodeURIComponent("import { parentPort } from 'node:worker_threads'; parentPort.postMessage({ type: 'ready', ok: true }); setTimeout(() => { throw new Error('the disk went away'); }, 20);")}`);
    const errors: string[] = [];
    let died: () => void = () => {};
    const gone = new Promise<void>((r) => (died = r));
    const w = await openCaptureWriter(join(dir(), 'cap.sqlite'), { keepSecrets: false, bodies: true, onError: (e) => (errors.push(e.message), died()) }, { workerUrl: dying });
    await gone;
    expect(errors.join('\n')).toMatch(/the capture writer stopped: the disk went away/);
    const refs: Array<WeakRef<ArrayBufferLike>> = [];
    const record = () => {
      // The proxy's own joined copies, the kind the writer would have taken over.
      const tap = new BodyTap(2_000_000);
      for (let i = 0; i < 64; i++) tap.write(Buffer.alloc(16_384, i));
      const ex = exchange(tap.bytes() as Buffer);
      refs.push(new WeakRef(ex.requestBody.buffer));
      w!.recordExchange(ex, undefined, undefined);
      expect(ex.requestBody.length).toBe(1_048_576);
    };
    for (let i = 0; i < 5; i++) record();
    await new Promise((r) => setImmediate(r));
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    await new Promise((r) => setImmediate(r));
    gc();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    await w!.close();
  });

  it('drops bodies, never metadata, when too much is in flight to the writer, and says so once', async () => {
    const file = join(dir(), 'cap.sqlite');
    const errors: string[] = [];
    const w = await openCaptureWriter(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.kind) }, { workerUrl, maxInFlightBytes: 100_000 });
    const big = Buffer.alloc(60_000, 0x41);
    for (let i = 0; i < 5; i++) w!.recordExchange(exchange(big), undefined, undefined);
    await w!.close();
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT length(b.request_body) AS n, e.bodies_dropped AS d FROM exchanges e JOIN exchange_bodies b ON b.id = e.id ORDER BY e.rowid').all() as Array<{ n: number | null; d: number }>;
    db.close();
    expect(rows).toHaveLength(5);
    expect(rows[0]).toEqual({ n: 60_000, d: 0 });
    expect(rows.filter((r) => r.d === 1).length).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual(['store-backlog']);
  });

  it('reports a capture it cannot open and gives no writer', async () => {
    const errors: string[] = [];
    const w = await openCaptureWriter(join(dir(), 'missing', 'deeper', 'cap.sqlite'), { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.message) }, { workerUrl });
    expect(w).toBeUndefined();
    expect(errors.join('\n')).toMatch(/cannot open the capture/);
  });
});
