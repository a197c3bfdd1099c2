/**
 * Analyzer and capture at fleet scale, in a process of its own so its memory figures are its own: 10,000 devices,
 * each with several sessions (Idle → NotNow → Acknowledged, every fifth session a server that keeps going after
 * the NotNow and so owes a push), fed through classify → Analyzer as `mdmtap start` does, with the time passed in.
 *
 *   1. analysis only: exchanges/s and events/s, heap per tracked device, process RSS;
 *   2. the same traffic through the live pipeline with the capture writer thread and a real SQLite file:
 *      exchanges/s sustained until the last row is on disk.
 *
 * Prints one JSON object on stdout. Run with --expose-gc for the heap figure.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Analyzer } from '../src/analysis/analyzer.js';
import { LivePipeline } from '../src/live/pipeline.js';
import { classify } from '../src/mdm/classify.js';
import { storeSink } from '../src/sinks/capture.js';
import { openCaptureWriter } from '../src/store/capture-writer.js';
import { fleetTraffic } from './workload.js';

const DEVICES = Number(process.argv[2] ?? 10_000);
const SESSIONS = Number(process.argv[3] ?? 4);
const T0 = Date.parse('2026-11-25T00:00:00Z');

const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  return process.memoryUsage().heapUsed;
};

// 1. Analysis only.
const heap0 = heap();
const analyzer = new Analyzer({ pushGraceMs: 120_000 });
let exchanges = 0;
let events = 0;
const t0 = performance.now();
for (const ex of fleetTraffic(DEVICES, SESSIONS, T0)) {
  const msg = classify(ex, { assumeMdm: true });
  if (msg) events += analyzer.feed(msg).length;
  exchanges++;
}
const analysisSeconds = (performance.now() - t0) / 1000;
const heapPerDevice = (heap() - heap0) / DEVICES;
const rssAfterAnalysis = process.memoryUsage().rss;
const tracked = analyzer.trackedChannels;

// 2. Through the live pipeline into a real capture file.
const dir = mkdtempSync(join(tmpdir(), 'mdmtap-bench-fleet-'));
try {
  const file = join(dir, 'fleet.sqlite');
  const errors: string[] = [];
  let now = T0;
  const pipeline = new LivePipeline({ pushGraceMs: 120_000, now: () => now });
  // Bounds out of the way: the figure is what the writer sustains with every row and body stored.
  const writer = await openCaptureWriter(file, { keepSecrets: false, bodies: true, maxQueue: 10_000_000, onError: (e) => errors.push(e.message) }, { maxInFlightBytes: 4 * 1024 ** 3 });
  if (!writer) throw new Error(errors[0] ?? 'capture did not open');
  pipeline.addSink(storeSink(writer));
  const t1 = performance.now();
  let n = 0;
  for (const ex of fleetTraffic(DEVICES, SESSIONS, T0)) {
    now = ex.endedAt;
    pipeline.exchange(ex);
    // Hand over in event-loop turns, as live traffic arrives, so the writer thread receives while we produce.
    if (++n % 2000 === 0) await new Promise((r) => setImmediate(r));
  }
  await pipeline.close();
  const storeSeconds = (performance.now() - t1) / 1000;
  process.stdout.write(
    JSON.stringify({
      devices: DEVICES,
      trackedChannels: tracked,
      sessions: DEVICES * SESSIONS,
      exchanges,
      events,
      analysisSeconds,
      exchangesPerSecond: exchanges / analysisSeconds,
      eventsPerSecond: events / analysisSeconds,
      heapBytesPerDevice: gc ? heapPerDevice : null,
      rssMB: rssAfterAnalysis / 1048576,
      storeSeconds,
      storeExchangesPerSecond: n / storeSeconds,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      errorMessages: errors.slice(0, 3),
      fileMB: statSync(file).size / 1e6,
      errors: errors.length,
    }) + '\n',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
