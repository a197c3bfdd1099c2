/**
 * `npm run bench`: every speed figure mdmtap tracks, side by side, in one run (about two minutes). Prints tables;
 * `--json` prints the figures as one JSON document instead. Each part is time-bounded and uses 127.0.0.1 only.
 * BENCHMARKS.md holds the figures of a real run and what they mean.
 */
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchDecoder } from './decoder.js';
import { benchStore } from './store.js';
import { benchDashboard } from './dashboard.js';
import { benchProxy } from './proxy.js';
import { benchHostile } from './hostile.js';
import { benchScale } from './scale.js';

interface Section {
  title: string;
  rows: string[][];
  figures: unknown;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

const n0 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const n1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const sections: Section[] = [];
  const log = (s: string) => {
    if (!json) process.stderr.write(s);
  };

  // The decoder first, on a quiet heap: it measures the code, not the garbage the load generator leaves.
  log('decoder: MB/s of input, mdmtap vs the plist package …\n');
  const dec = benchDecoder();
  sections.push({
    title: 'Decoder: MB/s of input (full decode next to plist; classify = what the proxy runs per body)',
    figures: dec,
    rows: [
      ['body', 'bytes', 'mdmtap MB/s', 'plist MB/s', 'speed-up', 'ms/body', 'classify MB/s', 'classify ms/body'],
      ...dec.map((d) => [d.case, n0(d.bytes), n1(d.oursMBps), n1(d.plistMBps), `${(d.oursMBps / d.plistMBps).toFixed(1)}×`, d.oursMsPerDoc.toFixed(3), n0(d.classifyMBps), d.classifyMsPerDoc.toFixed(3)]),
    ],
  });

  log('proxy: the same load direct, through http-mitm-proxy, mdmtap and mitmdump (about a minute) …\n');
  const px = await benchProxy();
  const direct = px[0].exchangesPerSecond;
  // Rows from the lighter load generator are compared with direct under that generator.
  const rawDirect = px.find((f) => f.target === 'direct, raw-socket load')?.exchangesPerSecond ?? direct;
  const base = (f: { target: string }) => (f.target.includes('raw-socket') ? rawDirect : direct);
  const mitmdump = px.find((f) => f.target === 'mitmdump')?.exchangesPerSecond;
  sections.push({
    title: 'Proxy: 50 devices on keep-alive TLS, Idle → NotNow → Acknowledged, every 10th Acknowledged with a 500 KB InstalledApplicationList',
    figures: px,
    rows: [
      ['target', 'exchanges/s', '% of direct', '× mitmdump', 'p50 ms', 'p99 ms', 'errors', 'loop delay p99/max ms', 'main thread waiting for a CPU', 'peak RSS MB', 'CPU ms/exchange'],
      ...px.map((f) => [
        f.target,
        n0(f.exchangesPerSecond),
        `${Math.round((100 * f.exchangesPerSecond) / base(f))} %`,
        mitmdump ? `${(f.exchangesPerSecond / mitmdump).toFixed(1)}×` : '–',
        n1(f.p50ms),
        n1(f.p99ms),
        String(f.errors),
        f.maxEventLoopDelayMs === undefined ? '–' : `${n1(f.p99EventLoopDelayMs)} / ${n1(f.maxEventLoopDelayMs)}`,
        f.mainThreadWaitPct === undefined ? '–' : `${Math.round(f.mainThreadWaitPct)} %`,
        n0(f.maxRssMB),
        f.cpuMsPerExchange === undefined ? '–' : f.cpuMsPerExchange.toFixed(3),
      ]),
    ],
  });

  log('analyzer + capture: 10,000 devices …\n');
  const fleetRun = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL('./fleet-main.js', import.meta.url))], { encoding: 'utf8', timeout: 120_000 });
  if (fleetRun.status !== 0) throw new Error(`fleet benchmark failed:\n${fleetRun.stderr}`);
  const fleet = JSON.parse(fleetRun.stdout) as Record<string, number>;
  log('capture writer: exchanges/s into SQLite with redaction …\n');
  const st = benchStore(3000);
  sections.push({
    title: 'Analyzer and capture at fleet scale (10,000 devices, 4 sessions each)',
    figures: { fleet, writer: st },
    rows: [
      ['measure', 'value'],
      ['analysis: exchanges/s (classify + Analyzer)', n0(fleet.exchangesPerSecond)],
      ['analysis: events/s', n0(fleet.eventsPerSecond)],
      ['heap per tracked device (bytes)', n0(fleet.heapBytesPerDevice)],
      ['process RSS with 10,000 devices tracked (MB)', n0(fleet.rssMB)],
      ['live pipeline into SQLite (writer thread): exchanges/s, all rows on disk', n0(fleet.storeExchangesPerSecond)],
      ['capture writer alone: exchanges/s (every 10th with a 20 KB body)', n0(st.perSecond)],
      ['capture file: bytes per exchange (that load; each distinct body stored once)', n0(st.bytesPerExchange)],
    ],
  });

  log('dashboard: Ink at 1,000 exchanges/s …\n');
  const db = await benchDashboard();
  sections.push({
    title: 'Dashboard: the real Ink app in a 120×40 terminal, fed 1,000 exchanges/s',
    figures: db,
    rows: [
      ['measure', 'value'],
      ['exchanges/s fed', n0(db.exchangesPerSecond)],
      ['terminal writes/s', n1(db.framesPerSecond)],
      ['bytes per write', n0(db.bytesPerFrame)],
      ['process CPU with the dashboard (% of one core)', n1(db.cpuPercentWithDashboard)],
      ['process CPU, same feed without it', n1(db.cpuPercentWithout)],
    ],
  });

  log('hostile bodies: the stall other devices see while each passes …\n');
  const hostile = await benchHostile();
  sections.push({
    title: 'Hostile bodies through mdmtap start (each sent 3 times): the longest exchange of a canary device meanwhile, and mdmtap RSS',
    figures: hostile,
    rows: [
      ['body', 'bytes', 'canary max ms', 'canary max before', 'RSS before MB', 'peak MB', 'after MB', 'HTTP'],
      ...hostile.map((h) => [h.body, n0(h.bytes), n1(h.canaryMaxMs), n1(h.canaryBaselineMaxMs), n0(h.rssBeforeMB), n0(h.rssPeakMB), n0(h.rssAfterMB), String(h.status)]),
    ],
  });

  log('captures at scale: analyze of a 2 GB HAR and of a 5,000,000-exchange SQLite capture (several minutes) …\n');
  const scale = await benchScale(log);
  sections.push({
    title: 'Captures at scale: mdmtap analyze in a child process (generated files, verdicts checked against the plan)',
    figures: scale,
    rows: [
      ['capture', 'size MB', 'exchanges', 'generate s', 'analyze s', 'exchanges/s', 'MB/s', 'peak RSS MB', 'verdicts'],
      ...scale.map((f) => [f.capture, n0(f.bytes / 1048576), n0(f.exchanges), n1(f.generateSeconds), n1(f.analyzeSeconds), n0(f.exchangesPerSecond), n1(f.mbPerSecond), n0(f.peakRssMB), f.verdictsAsPlanned ? 'as planned' : 'WRONG']),
    ],
  });

  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(totalmem() / 1e9) };
  if (json) {
    process.stdout.write(JSON.stringify({ date: new Date().toISOString(), machine, sections: sections.map((s) => ({ title: s.title, figures: s.figures })) }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`mdmtap benchmarks — Node ${machine.node}, ${machine.cpus} × ${machine.cpu}, ${machine.memoryGB} GB\n`);
  for (const s of sections) process.stdout.write(`\n${s.title}\n${table(s.rows)}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exit(1);
});
