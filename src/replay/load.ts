/**
 * A whole capture collected into memory: for tests and small tools. `mdmtap analyze` streams instead
 * (source.ts, timeline.ts, replay.ts), so its memory does not grow with the capture.
 */
import type { MdmMessage, PushSeen } from '../model/message.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import type { CaptureFormat } from '../capture/source.js';
import { openCapture } from './open.js';
import { latest } from '../util/latest.js';

export type { CaptureFormat };

export interface LoadedCapture {
  format: CaptureFormat;
  messages: MdmMessage[];
  pushes: PushSeen[];
  /** Exchanges read (HAR / SQLite) or exchange events (JSONL). */
  exchanges: number;
  /** Where the capture ends: its last timestamp, or the moment mdmtap stopped watching when it says so. */
  lastTs?: number;
  /** The analyzer settings the capture was judged with live (SQLite, mdmtap's HAR and JSON lines carry them). */
  recorded?: AnalyzerOptions;
}

export async function loadCapture(file: string): Promise<LoadedCapture> {
  const source = await openCapture(file);
  try {
    const messages: MdmMessage[] = [];
    const pushes: PushSeen[] = [];
    for await (const batch of source.items()) {
      for (const item of batch) {
        if (item.kind === 'message') messages.push(item.message);
        else if (item.kind === 'push') pushes.push(item.push);
      }
    }
    const lastTs = latest([...messages.map((m) => m.ts), ...pushes.map((p) => p.ts), source.observedUntil()]);
    return {
      format: source.format,
      messages: messages.sort((a, b) => a.ts - b.ts),
      pushes,
      exchanges: source.exchanges,
      ...(lastTs !== undefined ? { lastTs } : {}),
      ...(source.recorded ? { recorded: source.recorded } : {}),
    };
  } finally {
    source.close();
  }
}
