/**
 * The dashboard under load: the live pipeline fed 1,000 exchanges/s (a 500-device fleet, some servers stranding
 * NotNow'd commands so warnings keep coming), with the real Ink app rendering into a 120×40 terminal. Measures
 * frames written per second and the process CPU, next to the same feed with no dashboard, so the dashboard's own
 * cost is the difference.
 */
import { Writable, PassThrough } from 'node:stream';
import { LivePipeline } from '../src/live/pipeline.js';
import { fleetTraffic } from './workload.js';

export interface DashboardFigure {
  exchangesPerSecond: number;
  framesPerSecond: number;
  bytesPerFrame: number;
  cpuPercentWithDashboard: number;
  cpuPercentWithout: number;
}

const RATE = 1000;

/** Feeds the pipeline at RATE for ms (10 exchanges every 10 ms) and returns the process CPU share. */
async function feed(pipeline: LivePipeline, ms: number, clock: { now: number }): Promise<{ cpu: number; fed: number }> {
  const traffic = fleetTraffic(500, 1_000_000, Date.parse('2026-11-25T00:00:00Z'));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let fed = 0;
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
      while (fed < due) {
        const ex = traffic.next().value!;
        clock.now = ex.endedAt;
        pipeline.exchange(ex);
        fed++;
      }
      if (performance.now() - t0 >= ms) {
        clearInterval(timer);
        done();
      }
    }, 10);
  });
  const used = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  return { cpu: ((used.user + used.system) / 1000 / wall) * 100, fed };
}

export async function benchDashboard(ms = 4000): Promise<DashboardFigure> {
  // Loaded the way mdmtap loads it (production React, Ink out of CI mode), then the pieces runDashboard wraps.
  const { DashboardStore, dashboardSink } = await (await import('../tui/load.js')).loadDashboard();
  // No JSX in this file: a static React import would load React before NODE_ENV is settled.
  const [{ render }, { App }, { createElement }] = await Promise.all([import('ink'), import('../tui/app.js'), import('react')]);

  const without = await (async () => {
    const clock = { now: 0 };
    const pipeline = new LivePipeline({ pushGraceMs: 5_000, now: () => clock.now });
    const r = await feed(pipeline, ms, clock);
    await pipeline.close();
    return r;
  })();

  let frames = 0;
  let bytes = 0;
  const stdout = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        frames++;
        bytes += chunk.length;
        cb();
      },
    }),
    { columns: 120, rows: 40, isTTY: true },
  );
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined, ref: () => undefined, unref: () => undefined });
  const clock = { now: 0 };
  const store = new DashboardStore({ now: () => clock.now });
  store.setInfo({ mode: 'benchmark', pushGraceMs: 5_000, pushObservable: false });
  const pipeline = new LivePipeline({ pushGraceMs: 5_000, now: () => clock.now });
  pipeline.addSink(dashboardSink(store));
  const ui = render(createElement(App, { store, onQuit: () => undefined }), {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  await new Promise((r) => setTimeout(r, 300));
  frames = 0;
  bytes = 0;
  const withUi = await feed(pipeline, ms, clock);
  const seconds = ms / 1000;
  const f = frames;
  const b = bytes;
  ui.unmount();
  store.close();
  await pipeline.close();
  return {
    exchangesPerSecond: withUi.fed / seconds,
    framesPerSecond: f / seconds,
    bytesPerFrame: f ? b / f : 0,
    cpuPercentWithDashboard: withUi.cpu,
    cpuPercentWithout: without.cpu,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchDashboard()));
}
