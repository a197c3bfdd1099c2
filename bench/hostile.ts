/**
 * Hostile bodies through the real `mdmtap start` (reverse mode, analysis and SQLite capture on): while each one
 * passes, a canary device keeps sending small reports, and the longest wait it sees is the stall every other
 * device would see. mdmtap's RSS is read before, at its peak and a few seconds after, to show memory returns.
 * The bodies are the ones that stalled mdmtap before decoding had budgets: a 2 MB binary plist whose shared
 * references expand exponentially (as a report), a 0.5 MB one as the server's reply, an <integer> of 16.7 million
 * digits, and a 24 MB profile over --max-body.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './proxy.js';

export interface HostileFigure {
  body: string;
  bytes: number;
  /** Longest canary exchange while the body passed (sent three times), and the canary's worst just before (ms). */
  canaryMaxMs: number;
  canaryBaselineMaxMs: number;
  rssBeforeMB: number;
  rssPeakMB: number;
  /** Three seconds after the third body. */
  rssAfterMB: number;
  /** What the hostile request got back: forwarding is never refused. */
  status: number;
}

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const UDID = '00008030-001A2B3C4D5E802E';
const ROUNDS = 3;

/**
 * A binary plist report: Status, UDID and an ErrorChain that is the first of `levels` arrays, each holding
 * `width` references to the next (width^levels values if expanded), padded with `filler` one-byte objects so the
 * object count — which earlier budgets scaled with — is large.
 */
export function referenceBombPlist(levels: number, width: number, filler: number): Buffer {
  const objects: Buffer[] = [];
  const str = (s: string) => Buffer.concat([Buffer.from([0x5f, 0x10, s.length]), Buffer.from(s, 'latin1')]);
  // 0: top dict {CommandUUID, ErrorChain, Status, UDID}; keys 1-4, values 5-7 and the first array at 8.
  const keys = ['CommandUUID', 'ErrorChain', 'Status', 'UDID'];
  const ref = (n: number) => Buffer.from([(n >> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  objects.push(Buffer.concat([Buffer.from([0xd4]), ref(1), ref(2), ref(3), ref(4), ref(5), ref(8), ref(6), ref(7)]));
  for (const k of keys) objects.push(str(k));
  objects.push(str('CMD-HOSTILE-1'), str('Acknowledged'), str(UDID));
  for (let l = 0; l < levels; l++) {
    const next = l + 1 < levels ? 8 + l + 1 : 8 + levels; // the last level points at a `true`
    const refs = Buffer.alloc(width * 4);
    for (let i = 0; i < width; i++) refs.writeUInt32BE(next, i * 4);
    objects.push(Buffer.concat([Buffer.from([0xaf, 0x12]), ref(width), refs]));
  }
  objects.push(Buffer.from([0x09]));
  for (let i = 0; i < filler; i++) objects.push(Buffer.from([0x08]));
  return assembleBplist(objects, 4);
}

/** bplist00 bytes from its objects in order (object 0 on top): the offset table and trailer added. */
export function assembleBplist(objects: Buffer[], refSize: number): Buffer {
  const head = Buffer.from('bplist00');
  const offsets: number[] = [];
  let at = head.length;
  for (const o of objects) {
    offsets.push(at);
    at += o.length;
  }
  const table = Buffer.alloc(offsets.length * 4);
  offsets.forEach((o, i) => table.writeUInt32BE(o, i * 4));
  const trailer = Buffer.alloc(32);
  trailer[6] = 4;
  trailer[7] = refSize;
  trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  trailer.writeBigUInt64BE(0n, 16);
  trailer.writeBigUInt64BE(BigInt(at), 24);
  return Buffer.concat([head, ...objects, table, trailer]);
}

function hugeInteger(digits: number): Buffer {
  return Buffer.concat([
    Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>CommandUUID</key><integer>`),
    Buffer.alloc(digits, 0x37),
    Buffer.from(`</integer><key>Status</key><string>Acknowledged</string><key>UDID</key><string>${UDID}</string></dict></plist>\n`),
  ]);
}

function bigProfileReply(bytes: number): Buffer {
  const payload = Buffer.alloc(Math.floor((bytes * 3) / 4), 0x41).toString('base64');
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>Command</key><dict><key>Payload</key><data>${payload}</data>` +
      `<key>RequestType</key><string>InstallProfile</string></dict><key>CommandUUID</key><string>CMD-BIG-1</string></dict></plist>\n`,
  );
}

const idleReport = Buffer.from(`<?xml version="1.0"?><plist version="1.0"><dict><key>Status</key><string>Idle</string><key>UDID</key><string>CANARY-1</string></dict></plist>`);

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function benchHostile(): Promise<HostileFigure[]> {
  const work = mkdtempSync(join(tmpdir(), 'mdmtap-bench-hostile-'));
  // The MDM server: answers reports with an empty body, or with the reply a test asks for.
  let reply: Buffer = Buffer.alloc(0);
  const server = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      const body = req.headers['x-bench-reply'] === 'hostile' ? reply : Buffer.alloc(0);
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const upstream = (server.address() as net.AddressInfo).port;
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'start', '--upstream', `http://127.0.0.1:${upstream}/`, '--host', '127.0.0.1', '--port', String(port), '--json', '--db', join(work, 'cap.sqlite'), '--certs', join(work, 'certs')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`mdmtap did not start:\n${err}`)), 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/listening on/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  const ca = readFileSync(join(work, 'certs', 'ca.pem'), 'utf8');
  const agent = new https.Agent({ keepAlive: true, ca, maxSockets: 4 });
  const put = (body: Buffer, hostileReply = false) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, servername: 'localhost', method: 'PUT', path: '/mdm', agent, headers: { 'content-type': 'application/x-apple-aspen-mdm', 'content-length': body.length, ...(hostileReply ? { 'x-bench-reply': 'hostile' } : {}) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  // The canary: one small report after another, each one's round trip recorded with when it finished.
  const samples: Array<{ at: number; ms: number }> = [];
  let running = true;
  const canary = (async () => {
    while (running) {
      const t0 = performance.now();
      await put(idleReport).catch(() => 0);
      samples.push({ at: performance.now(), ms: performance.now() - t0 });
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const worst = (from: number, to: number) => Math.max(0, ...samples.filter((s) => s.at >= from && s.at <= to + 1).map((s) => s.ms));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const cases: Array<{ body: string; bytes: Buffer; asReply: boolean }> = [
    { body: '2 MB binary report, shared-reference bomb under ErrorChain', bytes: referenceBombPlist(500, 1000, 0), asReply: false },
    { body: '0.5 MB binary reply, shared-reference bomb under Command', bytes: referenceBombPlist(120, 1000, 2000), asReply: true },
    { body: 'XML report, <integer> of 16.7 million digits', bytes: hugeInteger(16_700_000), asReply: false },
    { body: '24 MB InstallProfile reply (over --max-body)', bytes: bigProfileReply(24 * 1024 * 1024), asReply: true },
  ];
  const figures: HostileFigure[] = [];
  await sleep(1500);
  try {
    for (const c of cases) {
      const baseStart = performance.now();
      const rssBefore = rssMB(proc.pid!);
      await sleep(800);
      const canaryBaselineMaxMs = worst(baseStart, performance.now());
      let peak = rssBefore;
      const watch = setInterval(() => (peak = Math.max(peak, rssMB(proc.pid!))), 20);
      // Three times over: a stall shows on each, a leak as memory that keeps climbing.
      let canaryMaxMs = 0;
      let status = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        if (c.asReply) {
          reply = c.bytes;
          status = await put(idleReport, true);
        } else status = await put(c.bytes);
        await sleep(500);
        canaryMaxMs = Math.max(canaryMaxMs, worst(t0, performance.now()));
      }
      await sleep(3000);
      clearInterval(watch);
      figures.push({ body: c.body, bytes: c.bytes.length, canaryMaxMs, canaryBaselineMaxMs, rssBeforeMB: rssBefore, rssPeakMB: peak, rssAfterMB: rssMB(proc.pid!), status });
    }
  } finally {
    running = false;
    await canary;
    agent.destroy();
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    server.close();
    rmSync(work, { recursive: true, force: true });
  }
  return figures;
}
