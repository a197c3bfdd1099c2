/**
 * Opens any capture `mdmtap analyze` accepts and returns what the analyzer needs, telling the format by content
 * (SQLite header, HAR's log object, JSON lines), not by file name.
 */
import { readFileSync, openSync, readSync, closeSync } from 'node:fs';
import type { MdmMessage, PushSeen } from '../mdm/message.js';
import { CaptureFormatError, harToCapture, parseHar } from './har.js';
import { parseJsonl } from './jsonl.js';
import { messagesOf } from './replay.js';
import { latest } from '../util/latest.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';

export type CaptureFormat = 'har' | 'jsonl' | 'sqlite';

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

const SQLITE_MAGIC = 'SQLite format 3\0';

export async function loadCapture(file: string): Promise<LoadedCapture> {
  let head: Buffer;
  try {
    const fd = openSync(file, 'r');
    head = Buffer.alloc(16);
    const n = readSync(fd, head, 0, 16, 0);
    closeSync(fd);
    head = head.subarray(0, n);
  } catch (e) {
    throw new CaptureFormatError(`cannot read ${file}: ${reason(e)}`);
  }
  if (head.toString('latin1') === SQLITE_MAGIC) return loadSqlite(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CaptureFormatError(`cannot read ${file}: ${reason(e)}`);
  }
  const trimmed = text.trimStart();
  if (trimmed === '') throw new CaptureFormatError(`${file} is empty`);
  const doc = parseWhole(trimmed);
  if (doc !== undefined && typeof doc === 'object' && doc !== null && 'log' in doc) {
    const { exchanges, pushes, meta } = harToCapture(doc, file);
    const lastTs = latest([...exchanges.map((e) => e.endedAt), ...pushes.map((p) => p.ts), meta?.observedUntil]);
    return {
      format: 'har',
      messages: messagesOf(exchanges),
      pushes,
      exchanges: exchanges.length,
      ...(lastTs !== undefined ? { lastTs } : {}),
      ...(meta ? { recorded: meta.settings } : {}),
    };
  }
  if (trimmed.startsWith('{')) {
    const nl = trimmed.indexOf('\n');
    // A broken JSON document (e.g. a cut HAR) is not JSON lines either: say what is wrong with it.
    if (parseWhole(nl === -1 ? trimmed : trimmed.slice(0, nl).trim()) === undefined) parseHar(text, file);
    const cap = parseJsonl(text, file);
    return { format: 'jsonl', ...cap, exchanges: cap.messages.length };
  }
  throw new CaptureFormatError(`${file} is not a capture mdmtap can read (HAR, mdmtap JSON lines or SQLite)`);
}

/** A HAR is one JSON document with a "log"; JSON lines fail to parse as one document (or are a single event). */
function parseWhole(text: string): unknown {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function loadSqlite(file: string): Promise<LoadedCapture> {
  // Loaded on demand: HAR and JSONL users never need the native module.
  const { readCaptureForAnalysis } = await import('../store/replay-source.js');
  try {
    return await readCaptureForAnalysis(file);
  } catch (e) {
    if (e instanceof CaptureFormatError) throw e;
    throw new CaptureFormatError(`cannot read ${file} as an mdmtap capture: ${reason(e)}`);
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES') return 'permission denied';
  if (err?.code === 'EISDIR') return 'it is a directory';
  return err?.message ?? String(e);
}
