/**
 * Captures of any size, generated for `npm run bench` (analyze of a 2 GB HAR and of a 5,000,000-exchange SQLite
 * capture) and for the streaming test, with verdicts known in advance.
 *
 * The fleet: every device sends a TokenUpdate, then runs rounds of sessions, one round every `gapMs` (longer than
 * the push grace). Even rounds are stranded — Idle → A, NotNow(A) → B, Acknowledged(B) with an app list → end —
 * and the next round re-sends A, which the device acknowledges (clean). So every stranded session owes a push that
 * never comes (`notnow-no-push` at its deadline), resolved when the device returns for the next round.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { migrate } from '../src/store/schema.js';
import { installedApplicationList } from '../src/sim/commands.js';
import { classify } from '../src/mdm/classify.js';
import type { Exchange } from '../src/model/exchange.js';

export interface CapturePlan {
  devices: number;
  /** Rounds of sessions per device (even: every stranded session is followed by the clean one that fixes it). */
  rounds: number;
  /** Size of the app list in each Acknowledged(B) report (bytes). */
  appListBytes: number;
  t0?: number;
  /** Time between rounds (ms); longer than the push grace, so every stranded session is warned about. */
  gapMs?: number;
}

export const PLAN_PUSH_GRACE_MS = 120_000;

export interface PlanVerdicts {
  exchanges: number;
  sessions: { stranded: number; clean: number };
  /** notnow-no-push warnings, each later resolved by the device's return. */
  warnings: number;
}

export function expectedVerdicts(p: CapturePlan): PlanVerdicts {
  const stranded = p.devices * Math.ceil(p.rounds / 2);
  const clean = p.devices * Math.floor(p.rounds / 2);
  // The last round's stranded sessions (odd round counts) are still owed at the end: pending, not warned.
  const warned = p.rounds % 2 === 0 ? stranded : stranded - p.devices;
  return { exchanges: p.devices * (1 + 3 * Math.ceil(p.rounds / 2) + 2 * Math.floor(p.rounds / 2)), sessions: { stranded, clean }, warnings: warned };
}

interface Step {
  at: number;
  udid: string;
  request: string;
  response: string;
  checkin?: boolean;
}

const udidOf = (d: number) => `00008030-${d.toString(16).padStart(16, '0').toUpperCase()}`;
const status = (udid: string, s: string, uuid?: string, extra = '') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n${uuid ? `\t<key>CommandUUID</key>\n\t<string>${uuid}</string>\n` : ''}${extra}\t<key>Status</key>\n\t<string>${s}</string>\n\t<key>UDID</key>\n\t<string>${udid}</string>\n</dict>\n</plist>\n`;
const command = (uuid: string, rt: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n\t<key>Command</key>\n\t<dict>\n\t\t<key>RequestType</key>\n\t\t<string>${rt}</string>\n\t</dict>\n\t<key>CommandUUID</key>\n\t<string>${uuid}</string>\n</dict>\n</plist>\n`;

/** The fleet's exchanges in time order (devices interleaved within each round). */
function* steps(p: CapturePlan): Generator<Step> {
  const t0 = p.t0 ?? Date.parse('2026-11-20T08:00:00Z');
  const gap = p.gapMs ?? 180_000;
  const stagger = Math.max(1, Math.floor(gap / 2 / p.devices));
  // The app list as it sits inside <key>InstalledApplicationList</key><array>…</array> (sorted before Status).
  const apps = installedApplicationList(p.appListBytes).toString('utf8');
  const list = apps.slice(apps.indexOf('<array>'), apps.lastIndexOf('</array>') + '</array>'.length);
  const appList = `\t<key>InstalledApplicationList</key>\n\t${list}\n`;
  for (let d = 0; d < p.devices; d++) {
    const udid = udidOf(d);
    const token = d.toString(16).padStart(64, '0');
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n\t<key>MessageType</key>\n\t<string>TokenUpdate</string>\n\t<key>PushMagic</key>\n\t<string>MAGIC-${d}</string>\n\t<key>Token</key>\n\t<data>${Buffer.from(token, 'hex').toString('base64')}</data>\n\t<key>Topic</key>\n\t<string>com.apple.mgmt.External.bench</string>\n\t<key>UDID</key>\n\t<string>${udid}</string>\n</dict>\n</plist>\n`;
    yield { at: t0 + d * stagger, udid, request: body, response: '', checkin: true };
  }
  for (let r = 0; r < p.rounds; r++) {
    for (let d = 0; d < p.devices; d++) {
      const udid = udidOf(d);
      let at = t0 + (r + 1) * gap + d * stagger;
      const a = `A-${d}-${r - (r % 2)}`;
      const b = `B-${d}-${r}`;
      if (r % 2 === 0) {
        yield { at: (at += 5), udid, request: status(udid, 'Idle'), response: command(a, 'InstallProfile') };
        yield { at: (at += 5), udid, request: status(udid, 'NotNow', a), response: command(b, 'InstalledApplicationList') };
        yield { at: (at += 5), udid, request: status(udid, 'Acknowledged', b, appList), response: '' };
      } else {
        yield { at: (at += 5), udid, request: status(udid, 'Idle'), response: command(a, 'InstallProfile') };
        yield { at: (at += 5), udid, request: status(udid, 'Acknowledged', a), response: '' };
      }
    }
  }
}

/** Writes the plan as a HAR as capture tools do (text bodies), entry by entry (memory stays small at any size). */
export async function writeHar(file: string, p: CapturePlan): Promise<{ bytes: number; entries: number }> {
  const out = createWriteStream(file, { highWaterMark: 4 * 1024 * 1024 });
  let bytes = 0;
  let entries = 0;
  const write = async (s: string) => {
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  await write(`{"log":{"version":"1.2","creator":{"name":"mdmtap bench","version":"1"},"_mdmtap":{"format":1,"pushGraceMs":${PLAN_PUSH_GRACE_MS}},"entries":[\n`);
  let n = 0;
  let batch = '';
  for (const s of steps(p)) {
    const ct = s.checkin ? 'application/x-apple-aspen-mdm-checkin' : 'application/x-apple-aspen-mdm';
    batch +=
      (n++ ? ',\n' : '') +
      `{"startedDateTime":"${new Date(s.at - 3).toISOString()}","time":3,"request":{"method":"PUT","url":"https://mdm.example.com/mdm","httpVersion":"HTTP/1.1","cookies":[],` +
      `"headers":[{"name":"Content-Type","value":"${ct}"}],"queryString":[],"postData":{"mimeType":"${ct}","text":${JSON.stringify(s.request)}},"headersSize":-1,"bodySize":${s.request.length}},` +
      `"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"content":{"size":${s.response.length},"mimeType":"application/xml","text":${JSON.stringify(s.response)}},` +
      `"redirectURL":"","headersSize":-1,"bodySize":${s.response.length}},"cache":{},"timings":{"send":0,"wait":3,"receive":0}}`;
    entries++;
    if (batch.length > 1024 * 1024) {
      await write(batch);
      batch = '';
    }
  }
  await write(batch + '\n]}}\n');
  out.end();
  await once(out, 'finish');
  return { bytes, entries };
}

/** Writes the plan straight into an mdmtap capture (bulk inserts into the real schema), as if recorded live. */
export function writeSqlite(file: string, p: CapturePlan): { rows: number } {
  const db = new Database(file);
  db.pragma('page_size = 65536');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  migrate(db);
  db.prepare('INSERT INTO runs (started_at, stopped_at, mdmtap_version, options, keep_secrets) VALUES (?, ?, ?, ?, 0)').run(
    new Date(p.t0 ?? 0).toISOString(), null, 'bench', JSON.stringify({ pushGrace: PLAN_PUSH_GRACE_MS }),
  );
  const insert = db.prepare(`INSERT INTO exchanges (id, connection_id, started_at, ended_at, ended_ms, host, method, path, http_status, request_headers,
    response_headers, request_body, response_body, request_size, response_size, message) VALUES (?, 'c', ?, ?, ?, 'mdm.example.com', 'PUT', '/mdm', 200, ?, '{}', ?, ?, ?, ?, ?)`);
  const headers = JSON.stringify({ 'content-type': 'application/x-apple-aspen-mdm' });
  const checkinHeaders = JSON.stringify({ 'content-type': 'application/x-apple-aspen-mdm-checkin' });
  let rows = 0;
  const batch: Step[] = [];
  const flush = db.transaction((items: Step[]) => {
    for (const s of items) {
      const req = Buffer.from(s.request);
      const res = Buffer.from(s.response);
      const started = new Date(s.at - 3).toISOString();
      const id = `g${++rows}`;
      // What the live proxy stores beside each exchange: what classification found in it.
      const ex: Exchange = {
        id, connectionId: 'c', startedAt: s.at - 3, endedAt: s.at, host: 'mdm.example.com', method: 'PUT', path: '/mdm', requestHeaders: {},
        requestBody: req, requestTruncated: false, status: 200, responseHeaders: {}, responseBody: res, responseTruncated: false,
      };
      const msg = classify(ex, { assumeMdm: true });
      insert.run(id, started, new Date(s.at).toISOString(), s.at, s.checkin ? checkinHeaders : headers, req, res, req.length, res.length, msg ? JSON.stringify(msg) : null);
    }
  });
  for (const s of steps(p)) {
    batch.push(s);
    if (batch.length === 20_000) flush(batch.splice(0));
  }
  flush(batch);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { rows };
}
