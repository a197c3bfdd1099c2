/**
 * Proxy throughput, side by side in one run: the same load straight to the server, through bare http-mitm-proxy
 * (the library's floor), through mdmtap as users run it (analysis and SQLite capture on), and through mitmdump
 * when it is on PATH. Load: 50 devices on keep-alive TLS, each running Idle → NotNow → Acknowledged sessions, every
 * 10th Acknowledged carrying a ~500 KB InstalledApplicationList. Every process is separate and on 127.0.0.1; each
 * target runs for a fixed time and stops by itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceAgent } from '../src/sim/connect-agent.js';
import { installedApplicationList, statusBody, type Load, type LoadShape } from './workload.js';
import { runRawLoad } from './raw-load.js';

export interface ProxyFigure {
  target: string;
  exchangesPerSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  /** mdmtap only: longest event-loop stall and peak RSS, measured inside the proxy process. */
  maxEventLoopDelayMs?: number;
  p99EventLoopDelayMs?: number;
  /**
   * mdmtap only: CPU time of the whole process (all threads) per exchange forwarded, over the measured load (on
   * Linux, from /proc: start-up and warm-up excluded); elsewhere over the process's life, warm-up included.
   */
  cpuMsPerExchange?: number;
  maxRssMB?: number;
  /**
   * mdmtap and the measuring relays, on Linux: the share of the measured load's wall time the process's main thread
   * was ready to run but waited for a CPU (/proc schedstat). On the bench's two shared cores this, not the proxy's
   * own work, is most of its event-loop lateness (BENCHMARKS.md).
   */
  mainThreadWaitPct?: number;
  note?: string;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/**
 * Another build of mdmtap to measure beside this one in the same run (its dist/src/cli/main.js), so that a change
 * is compared before and after on the same host in the same hour: `MDMTAP_BENCH_BEFORE=../old/dist/src/cli/main.js`.
 */
const BEFORE = process.env.MDMTAP_BENCH_BEFORE;
const DEVICES = 50;


export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Starts a child and resolves with its first stdout line (its port) or the line matching `re` on stderr. */
export function child(cmd: string, args: string[], env: NodeJS.ProcessEnv, waitFor: { stdout?: true; stderr?: RegExp }, stdoutFd?: number): Promise<{ proc: ChildProcess; line: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args.join(' ')} did not start:\n${err}`)), 30_000);
    proc.stdout?.on('data', (d: Buffer) => {
      if (!waitFor.stdout) return;
      out += d.toString();
      if (waitFor.stdout && out.includes('\n')) {
        clearTimeout(timer);
        resolve({ proc, line: out.split('\n')[0], stderr: () => err });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      // Only the start-up lines and the final statistics matter; keep the tail bounded.
      err = (err + d.toString()).slice(-20_000);
      const m = waitFor.stderr ? err.match(waitFor.stderr) : null;
      if (m) {
        clearTimeout(timer);
        resolve({ proc, line: m[0], stderr: () => err });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}):\n${err}`));
    });
  });
}

export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  proc.removeAllListeners('exit');
  const done = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}



/**
 * Load before each measured one. A proxy process is new for each row, and V8 is still optimising its code for the
 * first seconds of load: measured under the bench load, 13–15 % of mdmtap's CPU per exchange after a 1 s warm-up
 * was compilation that is gone after 4 s. The rows measure the steady state a long-running proxy is in.
 */
export const WARM_MS = 4000;
/** The load: 50 devices back to back, every 10th Acknowledged with ~500 KB. */
export const SATURATING: LoadShape = { devices: DEVICES, bigBytes: 500_000, bigEvery: 10, pauseMs: 0 };
/**
 * 1 MB in every session, paced: lighter than SATURATING, but 10 devices still keep the two shared cores busy enough
 * that mdmtap's main thread waits for a CPU a fifth to a third of the time (the stall rows' wait column).
 */
export const PACED_1MB: LoadShape = { devices: 10, bigBytes: 1_000_000, bigEvery: 1, pauseMs: 100 };

/** Devices each running sessions on their own kept-alive connection, for `ms`. */
export async function runLoad(serverPort: number, ms: number, transport: { ca: string[]; proxy?: { host: string; port: number } }, shape: LoadShape = SATURATING): Promise<Load> {
  const big = installedApplicationList(shape.bigBytes);
  const bigExtra = big.toString('utf8').match(/<key>InstalledApplicationList<\/key>[\s\S]*<\/array>/)![0];
  const load: Load = { exchanges: 0, errors: 0, latencies: [], bigLatencies: [] };
  const deadline = Date.now() + ms;
  const url = `https://127.0.0.1:${serverPort}/mdm`;
  const device = async (i: number) => {
    const agent = deviceAgent(transport);
    const udid = `BENCH-${String(i).padStart(4, '0')}`;
    const idle = statusBody(udid, 'Idle');
    const notNow = statusBody(udid, 'NotNow', '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55');
    const ack = statusBody(udid, 'Acknowledged', '1A2B3C4D-7C1D-4E35-9A7B-3C0E2D1F4A56');
    const ackBig = statusBody(udid, 'Acknowledged', '1A2B3C4D-7C1D-4E35-9A7B-3C0E2D1F4A56', bigExtra);
    let session = 0;
    const put = (body: Buffer) =>
      new Promise<void>((resolve) => {
        const t0 = performance.now();
        const req = https.request(url, { method: 'PUT', agent, headers: { 'content-type': 'application/x-apple-aspen-mdm', 'content-length': body.length, 'mdm-signature': 'MIAGCSqGSIb3DQEHAqCAMIACAQEx' } }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            load.latencies.push(performance.now() - t0);
            if (body.length > 100_000) load.bigLatencies.push(performance.now() - t0);
            if (res.statusCode === 200) load.exchanges++;
            else load.errors++;
            resolve();
          });
        });
        req.on('error', () => {
          load.errors++;
          resolve();
        });
        req.end(body);
      });
    // Bounded: stops at the deadline whatever the target does.
    while (Date.now() < deadline) {
      await put(idle);
      await put(notNow);
      await put(++session % shape.bigEvery === 0 ? ackBig : ack);
      if (shape.pauseMs) await new Promise((r) => setTimeout(r, shape.pauseMs));
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: shape.devices }, (_, i) => device(i)));
  return load;
}

function figure(target: string, load: Load, ms: number, extra: Partial<ProxyFigure> = {}): ProxyFigure {
  const sorted = [...load.latencies].sort((a, b) => a - b);
  const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN);
  return { target, exchangesPerSecond: load.exchanges / (ms / 1000), p50ms: q(0.5), p99ms: q(0.99), errors: load.errors, ...extra };
}

export async function benchProxy(ms = 6000): Promise<ProxyFigure[]> {
  const work = mkdtempSync(join(tmpdir(), 'mdmtap-bench-proxy-'));
  const figures: ProxyFigure[] = [];
  let server: ChildProcess | undefined;
  try {
    const srv = await child(process.execPath, [join(HERE, 'server-main.js'), join(work, 'server')], {}, { stdout: true });
    server = srv.proc;
    const serverPort = Number(srv.line);
    const serverCa = readFileSync(join(work, 'server', 'ca.pem'), 'utf8');
    const target = `127.0.0.1:${serverPort}`;

    // Warm-up, then each target for the same time.
    await runLoad(serverPort, WARM_MS, { ca: [serverCa] });
    figures.push(figure('direct to the server', await runLoad(serverPort, ms, { ca: [serverCa] }), ms));
    // The same devices from the lighter generator (raw TLS sockets): less of the two cores goes to the client.
    await runRawLoad(serverPort, WARM_MS, { ca: [serverCa] }, SATURATING);
    figures.push(figure('direct, raw-socket load', await runRawLoad(serverPort, ms, { ca: [serverCa] }, SATURATING), ms));
    // The floor of any decrypting proxy in Node (relay-floor-main.ts): TLS on both sides, bytes passed across.
    figures.push(await floor(work, serverPort, 'relay-floor-main.js', 'TLS byte relay, no HTTP (the floor), raw-socket load', ms));
    // The same plus HTTP framing of its own, body copies and mdmtap's analysis: where an HTTP engine of mdmtap's own
    // (instead of Node's http server and client) would stand.
    figures.push(await floor(work, serverPort, 'framing-floor-main.js', 'TLS relay + own HTTP framing + analysis, no Node HTTP, raw-socket load', ms));

    if (!process.env.MDMTAP_BENCH_ONLY) {
      const port = await freePort();
      const m = await child(process.execPath, [join(HERE, 'mitm-main.js'), join(work, 'mitm'), String(port)], { NODE_EXTRA_CA_CERTS: join(work, 'server', 'ca.pem') }, { stdout: true });
      const ca = readFileSync(join(work, 'mitm', 'certs', 'ca.pem'), 'utf8');
      const t = { ca: [ca], proxy: { host: '127.0.0.1', port } };
      await runLoad(serverPort, WARM_MS, t);
      figures.push(figure('bare http-mitm-proxy (no decoding)', await runLoad(serverPort, ms, t), ms));
      await stop(m.proc);
    }

    // With a build to compare, each configuration runs before then after, back to back: the host drifts.
    const builds = BEFORE ? ([[BEFORE, ' before'], [CLI, '']] as const) : ([[CLI, '']] as const);
    for (const [cli, before] of builds) {
      const m = await startMdmtap(work, target, `main${before ? '-before' : ''}`, true, cli);
      const [load, extra] = await measured(m, () => runLoad(serverPort, WARM_MS, m.transport), () => runLoad(serverPort, ms, m.transport));
      figures.push(figure(`mdmtap${before} (analysis + SQLite capture)`, load, ms, extra));
    }
    for (const capture of [true, false]) {
      for (const [cli, before] of builds) {
        const m = await startMdmtap(work, target, `${capture ? 'raw' : 'raw-nodb'}${before ? '-before' : ''}`, capture, cli);
        const label = capture ? `mdmtap${before} (analysis + SQLite capture), raw-socket load` : `mdmtap${before} --no-db, raw-socket load`;
        const [load, extra] = await measured(m, () => runRawLoad(serverPort, WARM_MS, m.transport, SATURATING), () => runRawLoad(serverPort, ms, m.transport, SATURATING));
        figures.push(figure(label, load, ms, extra));
      }
    }
    // Event-loop stalls with 1 MB bodies, on a paced load (see PACED_1MB); then the same with mdmtap's main thread
    // ahead of every other process in the CPU's queue (a negative nice needs root; skipped otherwise), which shows how
    // much of the lateness is waiting for one of the two shared cores rather than mdmtap's own work.
    for (const first of [false, true]) {
      const m = await startMdmtap(work, target, first ? 'stall-first' : 'stall');
      if (first && !raisePriority(m.pid)) {
        await m.stop();
        break;
      }
      const [load, extra] = await measured(m, () => runLoad(serverPort, WARM_MS, m.transport, PACED_1MB), () => runLoad(serverPort, ms, m.transport, PACED_1MB));
      delete extra.cpuMsPerExchange;
      figures.push(figure(first ? 'the same, mdmtap\'s main thread first in the CPU queue (nice −15)' : 'mdmtap, 10 devices paced, 1 MB in every session', load, ms, extra));
    }

    if (process.env.MDMTAP_BENCH_ONLY) return figures;
    if (spawnSync('mitmdump', ['--version']).status === 0) {
      const port = await freePort();
      const m = spawn('mitmdump', ['--listen-host', '127.0.0.1', '--listen-port', String(port), '--set', `confdir=${join(work, 'mitmproxy')}`, '--set', 'ssl_insecure=true', '-q'], { stdio: 'ignore' });
      try {
        const ca = await waitForFile(join(work, 'mitmproxy', 'mitmproxy-ca-cert.pem'));
        await waitForPort(port);
        const t = { ca: [ca], proxy: { host: '127.0.0.1', port } };
        await runLoad(serverPort, WARM_MS, t);
        figures.push(figure('mitmdump', await runLoad(serverPort, ms, t), ms));
      } finally {
        await stop(m);
      }
    } else {
      figures.push({ target: 'mitmdump', exchangesPerSecond: NaN, p50ms: NaN, p99ms: NaN, errors: 0, note: 'not on PATH (Debian package mitmproxy)' });
    }
    return figures;
  } finally {
    if (server) await stop(server);
    rmSync(work, { recursive: true, force: true });
  }
}

interface MdmtapStats {
  maxEventLoopDelayMs: number;
  p99EventLoopDelayMs: number;
  maxRssMB: number;
  cpuSeconds: number;
}

const stats = (s: MdmtapStats): Partial<ProxyFigure> => ({ maxEventLoopDelayMs: s.maxEventLoopDelayMs, p99EventLoopDelayMs: s.p99EventLoopDelayMs, maxRssMB: s.maxRssMB });

/** One of the bench's measuring relays (a `*-floor-main` script) under the raw-socket load, with its CPU per exchange. */
async function floor(work: string, serverPort: number, script: string, label: string, ms: number): Promise<ProxyFigure> {
  const dir = join(work, script);
  const r = await child(process.execPath, [join(HERE, script), dir, join(work, 'server', 'ca.pem'), String(serverPort)], {}, { stdout: true });
  try {
    const t = { ca: [readFileSync(join(dir, 'ca.pem'), 'utf8')], proxy: { host: '127.0.0.1', port: Number(r.line) } };
    await runRawLoad(serverPort, WARM_MS, t, SATURATING);
    const { load, ...measures } = await cpuDuring(r.proc.pid, () => runRawLoad(serverPort, ms, t, SATURATING));
    return figure(label, load, ms, measures);
  } finally {
    await stop(r.proc);
  }
}

/**
 * A warm-up, then the measured load, through a running mdmtap, which is then stopped: the load and what mdmtap
 * reported of itself, with its CPU per exchange over the measured load only where /proc tells (see ProxyFigure).
 */
async function measured(m: Awaited<ReturnType<typeof startMdmtap>>, warmUp: () => Promise<Load>, run: () => Promise<Load>): Promise<[Load, Partial<ProxyFigure>]> {
  const warm = await warmUp();
  const { load, cpuMsPerExchange, mainThreadWaitPct } = await cpuDuring(m.pid, run);
  const s = await m.stop();
  const wait = mainThreadWaitPct === undefined ? {} : { mainThreadWaitPct };
  if (!s) return [load, wait];
  return [load, { ...stats(s), ...wait, cpuMsPerExchange: cpuMsPerExchange ?? (s.cpuSeconds * 1000) / (warm.exchanges + load.exchanges) }];
}

/**
 * A load, the CPU the process `pid` used per exchange while it ran, and how long its main thread waited for a CPU
 * (each undefined where /proc does not tell).
 */
export async function cpuDuring(pid: number | undefined, run: () => Promise<Load>): Promise<{ load: Load; cpuMsPerExchange?: number; mainThreadWaitPct?: number }> {
  const cpu0 = processCpuMs(pid);
  const wait0 = mainThreadWaitMs(pid);
  const t0 = performance.now();
  const load = await run();
  const wall = performance.now() - t0;
  const cpu1 = processCpuMs(pid);
  const wait1 = mainThreadWaitMs(pid);
  return {
    load,
    ...(cpu0 !== undefined && cpu1 !== undefined ? { cpuMsPerExchange: (cpu1 - cpu0) / load.exchanges } : {}),
    ...(wait0 !== undefined && wait1 !== undefined ? { mainThreadWaitPct: (100 * (wait1 - wait0)) / wall } : {}),
  };
}

/** Time the main thread of `pid` has spent runnable but not running, in ms (Linux schedstat's second field). */
function mainThreadWaitMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const ns = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** Puts the main thread of `pid` (alone: on Linux a thread id) ahead of normal processes; false if not permitted. */
function raisePriority(pid: number | undefined): boolean {
  if (pid === undefined || process.platform !== 'linux') return false;
  try {
    setPriority(pid, -15);
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU of a process, all threads, in ms (Linux /proc; undefined elsewhere). */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is the
    // 12th, stime the 13th, in clock ticks (100 per second on Linux).
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/** `mdmtap start` as users run it headless: analysis, SQLite capture, events as JSON lines into a file. */
export async function startMdmtap(work: string, target: string, tag = 'main', capture = true, cli = CLI) {
  const dir = join(work, `mdmtap-${tag}`);
  const args = [cli, 'start', '--json', '--host', '127.0.0.1', '--port', '0', '--mdm-host', target, '--upstream-ca', join(work, 'server', 'ca.pem'), '--certs', join(work, 'mdmtap-ca'), ...(capture ? ['--db', `${dir}.sqlite`] : ['--no-db']), ...(process.env.MDMTAP_BENCH_ARGS ? process.env.MDMTAP_BENCH_ARGS.split(' ') : [])];
  const events = openSync(`${dir}.jsonl`, 'w');
  // Its own figures (loop delay) start after the warm-up, as the CPU figures do.
  const p = await child(process.execPath, args, { MDMTAP_STATS: String(WARM_MS) }, { stderr: /listening on 127\.0\.0\.1:(\d+)/ }, events);
  closeSync(events);
  const port = Number(/:(\d+)$/.exec(p.line)![1]);
  return {
    pid: p.proc.pid,
    transport: { ca: [readFileSync(join(work, 'mdmtap-ca', 'ca.pem'), 'utf8')], proxy: { host: '127.0.0.1', port } },
    async stop(): Promise<MdmtapStats | undefined> {
      await stop(p.proc);
      const stats = /mdmtap-stats (\{.*\})/.exec(p.stderr());
      return stats ? JSON.parse(stats[1]) : undefined;
    },
  };
}

async function waitForFile(file: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${file} never appeared`);
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await benchProxy()) console.log(JSON.stringify(f));
}
