/**
 * A dashboard fed by the real pipeline (classify → Analyzer → dashboard sink) with a clock the test moves, and the
 * keyboard helpers for driving it through ink-testing-library.
 */
import { vi } from 'vitest';
import { DashboardStore } from '../../tui/state/dashboard-store.js';
import { dashboardSink } from '../../tui/sink.js';
import { LivePipeline } from '../../src/live/pipeline.js';
import type { Exchange } from '../../src/model/exchange.js';
import { commandBody, idle, status, UDID } from './mdm-bodies.js';

export const KEY = { up: '\u001B[A', down: '\u001B[B', enter: '\r', esc: '\u001B', tab: '\t', ctrlC: '\u0003', backspace: '\u007f' };
export const strip = (s: string) => s.replace(/\u001B\[[0-9;]*[A-Za-z]/g, '');

export function dashboardRig(start = Date.parse('2026-11-25T10:00:00Z')) {
  let t = start;
  let n = 0;
  let now = t;
  const store = new DashboardStore({ now: () => now });
  const pipeline = new LivePipeline({ pushGraceMs: 60_000, now: () => now });
  pipeline.addSink(dashboardSink(store));
  store.setInfo({ mode: 'forward proxy', listen: '127.0.0.1:8080', captureFile: 'mdmtap.sqlite', caFingerprint: 'AB:CD:EF:01:23:45:67', pushGraceMs: 60_000, pushObservable: false });
  /** One exchange; the UDID in the bodies is replaced by `udid`. */
  const ex = (requestBody: Buffer, responseBody: Buffer = Buffer.alloc(0), udid = UDID): Exchange => {
    t += 100;
    now = t;
    n++;
    return {
      id: `x${n}`, connectionId: 'c', startedAt: t - 5, endedAt: t, host: 'mdm.example.com', method: 'PUT', path: '/mdm',
      requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm', 'mdm-signature': 'SIG' },
      requestBody: udid === UDID ? requestBody : Buffer.from(requestBody.toString().replaceAll(UDID, udid)),
      requestTruncated: false, status: 200, responseHeaders: {}, responseBody, responseTruncated: false,
    };
  };
  const feed = (...xs: Exchange[]) => xs.forEach((x) => pipeline.exchange(x));
  /** A clean one-exchange session: the device polls, the server has nothing. */
  const poll = (udid: string) => feed(ex(idle(), Buffer.alloc(0), udid));
  const strand = (udid = UDID) =>
    feed(ex(idle(), commandBody('A-1', 'InstallProfile'), udid), ex(status('NotNow', 'A-1'), commandBody('B-2', 'DeviceLock'), udid), ex(status('Acknowledged', 'B-2'), Buffer.alloc(0), udid));
  const advance = (ms: number) => {
    now = t += ms;
    pipeline.tick();
  };
  return { store, pipeline, ex, feed, poll, strand, advance, now: () => now };
}

/** Waits (bounded) until the rendered frame satisfies `pred`, and returns it without colour codes. */
export async function until(frame: () => string | undefined, pred: (f: string) => boolean, label: string): Promise<string> {
  try {
    return await vi.waitFor(
      () => {
        const f = strip(frame() ?? '');
        if (!pred(f)) throw new Error('not yet');
        return f;
      },
      { timeout: 2000, interval: 5 },
    );
  } catch {
    throw new Error(`frame never showed ${label}:\n${strip(frame() ?? '')}`);
  }
}

/**
 * Types keys one at a time, each after Ink has drawn again (or a bounded while, for keys that change nothing), as
 * a person types.
 */
export async function press(ui: { stdin: { write(s: string): void }; frames: string[] }, ...keys: string[]): Promise<void> {
  // Ink attaches its stdin listener in an effect after the first frame: let that run first.
  await new Promise((r) => setTimeout(r, 10));
  for (const k of keys) {
    const before = ui.frames.length;
    ui.stdin.write(k);
    for (let i = 0; i < 20 && ui.frames.length === before; i++) await new Promise((r) => setTimeout(r, 5));
  }
}

/** The line of a frame that carries the selection mark. */
export function selectedLine(frame: string, after = ''): string | undefined {
  const lines = frame.split('\n');
  const from = after ? lines.findIndex((l) => l.startsWith(after)) : 0;
  return lines.slice(Math.max(0, from)).find((l) => l.startsWith('› '));
}
