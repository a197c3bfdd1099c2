/**
 * `npm run bench:hardening`: the figures behind mdmtap's resource bounds (issue 12), against a real mdmtap child
 * process on 127.0.0.1, each part bounded in time:
 *  1. the longest event-loop stall while 50 new TLS server names arrive at once (leaves issued off the loop);
 *  2. idle, header-trickling, handshake-stalled, slow-body and kept-alive connections closed at their timeouts;
 *  3. 1,000 uploads stalled mid-body, and how long another device's exchanges take meanwhile;
 *  4. shutdowns under load: the exchanges devices received against the rows in the capture.
 * `--cli PATH` runs another build (an older mdmtap, for the figures before); flags it lacks are left out.
 * `--json` prints the figures as JSON. BENCHMARKS.md has a real run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createCa } from '../src/proxy/ca.js';
import { exchangeOver } from '../src/sim/raw-exchange.js';

const args = process.argv.slice(2);
const CLI = args.includes('--cli') ? args[args.indexOf('--cli') + 1] : fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const JSON_OUT = args.includes('--json');
const HELP = spawnSync(process.execPath, [CLI, 'start', '--help'], { encoding: 'utf8' }).stdout;
const supports = (flag: string) => HELP.includes(flag);
const log = (s: string) => (JSON_OUT ? undefined : process.stderr.write(s + '\n'));
const IDLE = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict><key>UDID</key><string>BENCH</string><key>Status</key><string>Idle</string></dict></plist>');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Mdmtap {
  port: number;
  proc: ChildProcess;
  /** SIGTERM; resolves with the exit code and MDMTAP_STATS figures. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; stats?: { maxEventLoopDelayMs: number; maxRssMB: number } }>;
}

async function mdmtap(argv: string[]): Promise<Mdmtap> {
  const proc = spawn(process.execPath, [CLI, 'start', '--json', '--host', '127.0.0.1', '--port', '0', ...argv], { env: { ...process.env, MDMTAP_STATS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on('close', r));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearInterval(t);
        resolve(Number(m[1]));
      } else if (proc.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`mdmtap exited: ${err}`));
      }
    }, 10);
  });
  return {
    port,
    proc,
    stop: async (signal = 'SIGTERM') => {
      proc.kill(signal);
      const code = await exited;
      const s = /mdmtap-stats (\{.*\})/.exec(err);
      return { code, ...(s ? { stats: JSON.parse(s[1]) } : {}) };
    },
  };
}

/** The MDM server: answers every request at once with an empty 200 (a session's end). */
async function server(dir: string): Promise<{ port: number; caFile: string; close(): void }> {
  const ca = await createCa({ commonName: 'mdmtap hardening bench server' });
  const leaf = await ca.issue('127.0.0.1');
  const s = https.createServer({ cert: leaf.cert, key: leaf.key, keepAlive: true }, (req, res) => {
    req.resume();
    req.on('end', () => res.end());
  });
  s.keepAliveTimeout = 120_000;
  s.headersTimeout = 0;
  s.requestTimeout = 0;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, ca.certPem);
  return { port: (s.address() as net.AddressInfo).port, caFile, close: () => (s.closeAllConnections(), s.close()) };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
    s.on('error', reject);
  });
}

/** CONNECT through mdmtap and TLS inside, as a device with mdmtap as its proxy. */
async function device(port: number, target: string, ca: string): Promise<tls.TLSSocket> {
  const raw = await connect(port);
  raw.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    raw.once('data', (d: Buffer) => (d.toString().startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(d.toString()))));
    raw.once('error', reject);
  });
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket: raw, ca, host: '127.0.0.1' }, () => resolve(s));
    s.on('error', reject);
  });
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const r0 = (x: number) => (Number.isNaN(x) ? NaN : Math.round(x));

/** Part 1: the longest stall while 50 new names are issued, against the same traffic on one known name. */
async function leafStall(dir: string) {
  const up = await server(dir);
  const names = Array.from({ length: 50 }, (_, i) => `device-name-${i}.example`);
  const run = async (fresh: boolean) => {
    const certs = join(dir, `certs-stall-${fresh}`);
    const p = await mdmtap(['--no-db', '--upstream', `https://127.0.0.1:${up.port}/`, '--upstream-ca', up.caFile, '--certs', certs, ...(supports('--server-name') ? names.flatMap((n) => ['--server-name', n]) : [])]);
    const ca = readFileSync(join(certs, 'ca.pem'), 'utf8');
    const open = (servername: string) =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: p.port, ca, servername, checkServerIdentity: () => undefined }, () => resolve(s));
        s.on('error', reject);
      });
    // Warm up: the first connections pay for loading code, in both runs.
    for (let i = 0; i < 20; i++) {
      const s = await open('localhost');
      await exchangeOver(s, '/mdm', IDLE);
      s.destroy();
    }
    // A device polling throughout, timing each exchange.
    const probe = await open('localhost');
    const lat: number[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const t = performance.now();
        await exchangeOver(probe, '/mdm', IDLE);
        lat.push(performance.now() - t);
      }
    })();
    await sleep(300);
    const t0 = performance.now();
    await Promise.all((fresh ? names : names.map(() => 'localhost')).map(async (n) => {
      const s = await open(n);
      await exchangeOver(s, '/mdm', IDLE);
      s.destroy();
    }));
    const burstMs = performance.now() - t0;
    await sleep(300);
    polling = false;
    await poll;
    probe.destroy();
    const { stats } = await p.stop();
    return { maxEventLoopDelayMs: stats?.maxEventLoopDelayMs ?? NaN, probeMaxMs: Math.max(...lat), probeP50Ms: pct(lat, 50), burstMs };
  };
  const known = await run(false);
  const fresh = await run(true);
  up.close();
  return { knownName: known, fiftyNewNames: fresh };
}

/** Part 2: when each kind of slow connection is closed (ms after it started), with short timeouts. */
async function timeouts(dir: string) {
  const up = await server(dir);
  const target = `127.0.0.1:${up.port}`;
  const certs = join(dir, 'certs-timeouts');
  const flags = supports('--handshake-timeout') ? ['--handshake-timeout', '3s', '--header-timeout', '3s', '--idle-timeout', '3s', '--request-timeout', '6s'] : [];
  const p = await mdmtap(['--no-db', '--mdm-host', target, '--upstream-ca', up.caFile, '--certs', certs, ...flags]);
  const ca = readFileSync(join(certs, 'ca.pem'), 'utf8');
  const WINDOW = 15_000;
  const closedAt = async (kind: string, n: number, start: () => Promise<net.Socket>) => {
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: n }, async () => {
        const t = performance.now();
        const s = await start();
        // Read what mdmtap sends (a 408, a CONNECT answer): unread data would keep the close from being seen.
        s.resume();
        await Promise.race([new Promise((r) => s.once('close', r)), sleep(WINDOW)]);
        if (!s.destroyed && s.readyState !== 'closed') {
          s.destroy();
          return;
        }
        times.push(performance.now() - t);
      }),
    );
    return { kind, connections: n, closed: times.length, stillOpenAfterMs: n - times.length ? WINDOW : 0, p50Ms: r0(pct(times, 50)), maxMs: r0(pct(times, 100)), minMs: r0(pct(times, 0)) };
  };
  const trickle = (s: net.Socket, text: string) => {
    let i = 0;
    const t = setInterval(() => (i < text.length && !s.destroyed ? s.write(text[i++]) : clearInterval(t)), 500);
    s.once('close', () => clearInterval(t));
  };
  const rows = await Promise.all([
    closedAt('silent (no request)', 300, async () => connect(p.port)),
    closedAt('header trickle, 1 byte / 500 ms', 300, async () => {
      const s = await connect(p.port);
      trickle(s, 'GET /ca.pem HTTP/1.1\r\nhost: x\r\nx-slow: ' + 'a'.repeat(100));
      return s;
    }),
    closedAt('handshake stalled after CONNECT', 300, async () => {
      const s = await connect(p.port);
      s.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
      return s;
    }),
    closedAt('body trickle, 1 byte / 500 ms', 100, async () => {
      const s = await device(p.port, target, ca);
      s.write('PUT /mdm HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n');
      trickle(s as unknown as net.Socket, 'x'.repeat(100));
      return s as unknown as net.Socket;
    }),
    closedAt('kept alive after one exchange', 100, async () => {
      const s = await device(p.port, target, ca);
      await exchangeOver(s, '/mdm', IDLE);
      return s as unknown as net.Socket;
    }),
  ]);
  await p.stop();
  up.close();
  return { flags: flags.join(' ') || '(defaults of that build)', rows };
}

/** Part 3: 1,000 stalled uploads and another device's exchange latency before and during them. */
async function stalledUploads(dir: string, count = 1000) {
  const up = await server(dir);
  const target = `127.0.0.1:${up.port}`;
  const certs = join(dir, 'certs-stalled');
  const p = await mdmtap(['--no-db', '--mdm-host', target, '--upstream-ca', up.caFile, '--certs', certs]);
  const ca = readFileSync(join(certs, 'ca.pem'), 'utf8');
  const probe = async () => {
    const lat: number[] = [];
    let blocked = 0;
    const s = await device(p.port, target, ca);
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      const ok = await Promise.race([exchangeOver(s, '/mdm', IDLE).then(() => true), sleep(10_000).then(() => false)]);
      if (!ok) {
        blocked++;
        break;
      }
      lat.push(performance.now() - t);
    }
    s.destroy();
    return { exchanges: lat.length, blockedAfter10s: blocked, p50Ms: +pct(lat, 50).toFixed(2), maxMs: +pct(lat, 100).toFixed(2) };
  };
  const before = await probe();
  const stalled: tls.TLSSocket[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const s = await device(p.port, target, ca);
        s.on('error', () => undefined);
        s.write('PUT /mdm HTTP/1.1\r\nhost: x\r\ncontent-length: 10000000\r\n\r\n' + 'x'.repeat(64 * 1024));
        stalled.push(s);
      }),
    );
  }
  const openMs = performance.now() - t0;
  await sleep(1000);
  const during = await probe();
  stalled.forEach((s) => s.destroy());
  const { stats } = await p.stop();
  up.close();
  return { stalledUploads: count, openedInMs: r0(openMs), before, during, mdmtapMaxRssMB: r0(stats?.maxRssMB ?? NaN) };
}

/** Part 4: shutdowns under load, counting rows against what devices received. */
async function shutdowns(dir: string, rounds = 10) {
  const up = await server(dir);
  const target = `127.0.0.1:${up.port}`;
  const certs = join(dir, 'certs-stop');
  let received = 0;
  let missing = 0;
  let lossyRounds = 0;
  const codes: Array<number | null> = [];
  for (let round = 0; round < rounds; round++) {
    const db = join(dir, `stop-${round}.sqlite`);
    const p = await mdmtap(['--db', db, '--mdm-host', target, '--upstream-ca', up.caFile, '--certs', certs]);
    const ca = readFileSync(join(certs, 'ca.pem'), 'utf8');
    const got: string[] = [];
    const devices = Array.from({ length: 16 }, async (_, d) => {
      try {
        const s = await device(p.port, target, ca);
        for (let i = 0; i < 100_000; i++) {
          const path = `/mdm?r=${round}&d=${d}&i=${i}`;
          if ((await exchangeOver(s, path, IDLE)) !== 200) return;
          got.push(path);
        }
      } catch {
        // turned away at the stop
      }
    });
    await sleep(400 + 97 * round);
    const { code } = await p.stop(round % 2 ? 'SIGINT' : 'SIGTERM');
    await Promise.all(devices);
    codes.push(code);
    const d = new Database(db, { readonly: true });
    const stored = new Set((d.prepare('SELECT path FROM exchanges').all() as Array<{ path: string }>).map((r) => r.path));
    d.close();
    const lost = got.filter((x) => !stored.has(x)).length;
    received += got.length;
    missing += lost;
    if (lost) lossyRounds++;
  }
  up.close();
  return { rounds, received, missing, lossyRounds, exitCodes: [...new Set(codes)] };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdmtap-hardening-'));
  const out: Record<string, unknown> = { cli: CLI };
  try {
    log('1. event-loop stall while 50 new names arrive …');
    out.leafStall = await leafStall(dir);
    log(JSON.stringify(out.leafStall));
    log('2. slow and idle connections against the timeouts (15 s window) …');
    out.timeouts = await timeouts(dir);
    log(JSON.stringify(out.timeouts, null, 1));
    log('3. 1,000 stalled uploads …');
    out.stalledUploads = await stalledUploads(dir);
    log(JSON.stringify(out.stalledUploads));
    log('4. shutdowns under load …');
    out.shutdowns = await shutdowns(dir);
    log(JSON.stringify(out.shutdowns));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (JSON_OUT) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  process.exit(0);
}

void main();
