/**
 * Redaction fails closed: every secret of PROTOCOL.md, planted in bodies that cannot be decoded in full — cut at
 * the capture limit, malformed, binary or XML, key names spelled with character references — must reach none of
 * the SQLite file, its WAL, the HAR / JSON-lines / CSV exports, the events, or the dashboard's detail view.
 */
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import * as plist from 'plist';
import zlib from 'node:zlib';
import { openCaptureStore } from '../../src/store/capture-store.js';
import { openCaptureReadonly, type CaptureReader, type Filter } from '../../src/store/reader.js';
import { exportCsv, exportHar, exportJsonl } from '../../src/store/export.js';
import { LivePipeline } from '../../src/live/pipeline.js';
import { storeSink } from '../../src/sinks/capture.js';
import { SECRET_KEYS } from '../../src/mdm/redact.js';
import type { Exchange } from '../../src/model/exchange.js';
import type { AnalyzerEvent } from '../../src/model/events.js';
import { DashboardStore } from '../../tui/state/dashboard-store.js';
import { dashboardSink } from '../../tui/sink.js';
import { tempDir } from '../helpers/tls-peers.js';
import { idle, status } from '../helpers/mdm-bodies.js';

const dirs: Array<{ remove(): void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

/** Every key PROTOCOL.md lists, and names the patterns catch (any *Password*, *RecoveryKey*, *Passphrase*). */
const KEYS = [...SECRET_KEYS, 'AdminPassword', 'EscrowRecoveryKey', 'WiFiPassphrase'];
const secretOf = (key: string) => `S3CRET-${key}-${key.length * 7919}`;

/** A server command carrying the secret deep inside, keys sorted as Apple's writer does, with a big tail after it. */
function command(key: string): Record<string, unknown> {
  return {
    Command: { Filler: 'x'.repeat(300), [key]: secretOf(key), RequestType: 'DeviceLock', Zzz: Array.from({ length: 40 }, (_, i) => `item-${i}`) },
    CommandUUID: `C-${key}`,
  };
}

/** The ways a body reaches the store undecodable. `cut` is set when the proxy flagged it truncated. */
function undecodable(key: string): Array<{ name: string; body: Buffer; cut: boolean }> {
  const xml = Buffer.from(plist.build(command(key) as plist.PlistValue));
  const bin = Buffer.from(plist.buildBinary(command(key) as plist.PlistValue));
  const secret = secretOf(key);
  const at = xml.indexOf(secret);
  const refs = Buffer.from(xml.toString('latin1').replace(`<key>${key}</key>`, `<key>&#${key.charCodeAt(0)};${key.slice(1)}</key>`), 'latin1');
  return [
    { name: 'XML cut inside the secret', body: xml.subarray(0, at + 6), cut: true },
    { name: 'XML cut right after the secret', body: xml.subarray(0, at + secret.length), cut: true },
    { name: 'XML cut after the value closed', body: xml.subarray(0, at + secret.length + 20), cut: true },
    { name: 'XML malformed after the secret', body: Buffer.from(xml.toString('latin1').replace('<key>RequestType</key>', '<key>RequestType</kye>'), 'latin1'), cut: false },
    { name: 'XML with the key spelled by a character reference, cut', body: refs.subarray(0, refs.length - 30), cut: true },
    { name: 'binary cut before its trailer', body: bin.subarray(0, bin.length - 40), cut: true },
    { name: 'binary with a broken trailer', body: Buffer.concat([bin.subarray(0, bin.length - 8), Buffer.alloc(8, 0xff)]), cut: false },
  ];
}

let seq = 0;
const T0 = Date.parse('2026-11-25T09:00:00Z');
function exchange(requestBody: Buffer, responseBody: Buffer, over: Partial<Exchange> = {}): Exchange {
  seq++;
  return {
    id: `x${seq}`, connectionId: 'c1', startedAt: T0 + seq * 100, endedAt: T0 + seq * 100 + 10, host: 'mdm.example.com', method: 'PUT', path: '/mdm',
    requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm' }, requestBody, requestTruncated: false,
    status: 200, responseHeaders: {}, responseBody, responseTruncated: false, ...over,
  };
}

async function exported(reader: CaptureReader, fn: (r: CaptureReader, f: Filter, out: Writable) => Promise<number>): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await fn(reader, {}, out);
  return Buffer.concat(chunks).toString('latin1');
}

/** A capture file written by the real store through the live pipeline, with the events and store errors kept. */
function capturing(prefix: string) {
  const d = tempDir(prefix);
  dirs.push(d);
  const file = join(d.dir, 'cap.sqlite');
  const errors: string[] = [];
  const store = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: (e) => errors.push(e.message), run: { version: 'test', options: {} } });
  const pipeline = new LivePipeline({ now: () => T0 + seq * 100 });
  pipeline.addSink(storeSink(store));
  const events: AnalyzerEvent[] = [];
  pipeline.addSink({ event: (e) => events.push(e) });
  return { file, errors, store, pipeline, events };
}

describe('redaction fails closed', () => {
  it(`no planted secret (${KEYS.length} keys × 7 undecodable bodies, as reply and as report) reaches the DB, WAL, exports, events or screen`, async () => {
    const { file, errors, store, pipeline, events } = capturing('mdmtap-failclosed-');
    const dashboard = new DashboardStore({ now: () => T0 });
    pipeline.addSink(dashboardSink(dashboard));

    const ids: string[] = [];
    for (const key of KEYS) {
      for (const u of undecodable(key)) {
        // As the server's reply to a report, and as a device's report (a result carrying the secret).
        const asReply = exchange(idle(), u.body, { responseTruncated: u.cut });
        const asReport = exchange(u.body, Buffer.alloc(0), { requestTruncated: u.cut });
        pipeline.exchange(asReply);
        pipeline.exchange(asReport);
        ids.push(asReply.id, asReport.id);
      }
    }
    // A decodable body with every secret at once, for contrast: redacted by decoding.
    pipeline.exchange(exchange(status('Acknowledged', 'C-all', Object.fromEntries(KEYS.map((k) => [k, secretOf(k)]))), Buffer.alloc(0)));
    store.flush();
    // While the capture is open its pages sit in the WAL: look there too, then in the file once checkpointed.
    const wal = `${file}-wal`;
    expect(existsSync(wal)).toBe(true);
    const raw: Array<[string, string]> = [['WAL', readFileSync(wal).toString('latin1')]];
    await pipeline.close();
    raw.push(['SQLite file', readFileSync(file).toString('latin1')]);
    expect(errors).toEqual([]);

    const reader = openCaptureReadonly(file);
    raw.push(['HAR export', await exported(reader, exportHar)], ['JSON-lines export', await exported(reader, exportJsonl)], ['CSV export', await exported(reader, exportCsv)]);
    // Every body column, read back through SQL (a value split across overflow pages would hide from a byte search).
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT request_body, response_body FROM exchange_bodies').all() as Array<{ request_body: Buffer | null; response_body: Buffer | null }>;
    db.close();
    expect(rows.length).toBe(ids.length + 1);
    raw.push(['stored bodies', rows.map((r) => `${r.request_body?.toString('latin1') ?? ''}\n${r.response_body?.toString('latin1') ?? ''}`).join('\n')]);
    raw.push(['events', JSON.stringify(events)]);
    raw.push(['dashboard detail', JSON.stringify(ids.map((id) => dashboard.detail(id)))]);
    reader.close();

    for (const key of KEYS) {
      const secret = secretOf(key);
      for (const [where, text] of raw) expect(text.includes(secret), `${key}'s secret in the ${where}`).toBe(false);
    }
    // What was withheld says why, and the rest of a scrubbed XML body is still there for the auditor.
    const stored = raw.find(([w]) => w === 'stored bodies')![1];
    expect(stored).toContain('<withheld by mdmtap: a binary body that was cut at the capture limit names a secret key');
    expect(stored).toContain('<key>RequestType</key>');
  });

  it('a compressed reply (gzip, deflate, br) is analysed and stored decoded, its secrets redacted; one that does not decode is not kept', async () => {
    const { file, errors, pipeline, events } = capturing('mdmtap-coding-');
    const lock = (n: number) => Buffer.from(plist.build({ Command: { PIN: `PIN-${n}-424242`, RequestType: 'DeviceLock' }, CommandUUID: `L-${n}` }));
    const codings: Array<[string, (b: Buffer) => Buffer]> = [['gzip', (b) => zlib.gzipSync(b)], ['deflate', (b) => zlib.deflateSync(b)], ['br', (b) => zlib.brotliCompressSync(b)]];
    codings.forEach(([coding, pack], i) => pipeline.exchange(exchange(idle(), pack(lock(i)), { responseHeaders: { 'content-encoding': coding } })));
    const broken = Buffer.concat([zlib.gzipSync(lock(9)).subarray(0, 30), Buffer.alloc(40, 7)]);
    pipeline.exchange(exchange(idle(), broken, { responseHeaders: { 'content-encoding': 'gzip' } }));
    await pipeline.close();
    expect(errors).toEqual([]);
    // Read as commands, as the device read them.
    const replies = events.filter((e) => e.type === 'exchange').map((e) => (e.type === 'exchange' ? [e.reply, e.requestType] : []));
    expect(replies.slice(0, 3)).toEqual([['command', 'DeviceLock'], ['command', 'DeviceLock'], ['command', 'DeviceLock']]);
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT b.response_body, e.response_headers FROM exchanges e JOIN exchange_bodies b ON b.id = e.id ORDER BY e.rowid').all() as Array<{ response_body: Buffer; response_headers: string }>;
    db.close();
    const reader = openCaptureReadonly(file);
    const har = await exported(reader, exportHar);
    reader.close();
    for (const text of [readFileSync(file).toString('latin1'), har, ...rows.map((r) => r.response_body.toString('latin1'))]) expect(text).not.toMatch(/PIN-\d-424242/);
    expect(rows[0].response_body.toString()).toContain('<key>RequestType</key>');
    expect(JSON.parse(rows[0].response_headers)).toEqual({ 'x-mdmtap-decoded-content-encoding': 'gzip' });
    expect(rows[3].response_body.toString()).toMatch(/^<not kept by mdmtap: a gzip body of \d+ bytes that could not be decoded/);
  });
});
