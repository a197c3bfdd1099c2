/**
 * Progress of long work on a terminal: one line on stderr, redrawn a few times a second — how much is done, the
 * rate, the time left — and erased when the work ends. Nothing at all when stderr is not a terminal (a pipe, a
 * file, CI) or with --quiet, so output meant for other programs stays clean.
 *
 * Hand-written rather than from a library: the line is all that is needed, it must share the terminal with the
 * dashboard's Ink and with stdout output, and the maintained progress packages draw bars for their own loop.
 */
import type { CaptureProgress } from '../capture/source.js';

export interface ProgressLine {
  stop(): void;
}

const REDRAW_MS = 250;

export function showProgress(label: string, read: () => CaptureProgress, opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressLine {
  const out = opts.stream ?? process.stderr;
  if (opts.quiet || !out.isTTY) return { stop: () => {} };
  const started = performance.now();
  let drawn = false;
  const draw = () => {
    const p = read();
    const secs = (performance.now() - started) / 1000;
    if (secs < 1) return; // short work shows nothing
    const rate = p.done / secs;
    const left = rate > 0 && p.total > p.done ? (p.total - p.done) / rate : undefined;
    const pct = p.total > 0 ? `${Math.min(100, Math.floor((100 * p.done) / p.total))} %` : '';
    const amount = p.unit === 'bytes' ? `${size(p.done)} of ${size(p.total)} (${pct}) · ${size(rate)}/s` : p.unit === 'rows' ? `${count(p.done)} of ${count(p.total)} rows (${pct}) · ${count(rate)} rows/s` : pct;
    const line = `${label}: ${amount}${left !== undefined ? ` · ${Math.ceil(left)}s left` : ''}`;
    out.write(`\r\x1b[2K${line.slice(0, Math.max(10, (out.columns ?? 80) - 1))}`);
    drawn = true;
  };
  const timer = setInterval(draw, REDRAW_MS);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      if (drawn) out.write('\r\x1b[2K');
    },
  };
}

function size(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.round(bytes / 1024)} KB`;
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
