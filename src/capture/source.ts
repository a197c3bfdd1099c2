/**
 * A capture as a stream: what `mdmtap analyze` reads, one item at a time, whatever the file's size. Each format
 * (HAR, mdmtap JSON lines, mdmtap SQLite) is a CaptureSource; the format is told by content, not by file name.
 * Items are already classified (MdmMessage) or pushes, each with the instant the analyzer evaluates it at and a
 * key that says when two files hold the same exchange.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { MdmMessage, PushSeen } from '../mdm/message.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { CaptureFormatError } from './errors.js';

export type CaptureFormat = 'har' | 'jsonl' | 'sqlite';

export type CaptureItem =
  | { kind: 'message'; ts: number; key: string; message: MdmMessage }
  | { kind: 'push'; ts: number; key: string; push: PushSeen };

export interface CaptureProgress {
  done: number;
  total: number;
  /** `percent`: several inputs measured differently, as shares of the whole. */
  unit: 'bytes' | 'rows' | 'percent';
}

export interface CaptureSource {
  readonly name: string;
  readonly format: CaptureFormat;
  /** The analyzer settings the capture says it was judged with live (mdmtap's captures and exports). */
  readonly recorded: AnalyzerOptions | undefined;
  /** Exchanges read so far (HAR, SQLite) or exchange events (JSON lines). */
  readonly exchanges: number;
  /** Until when mdmtap was watching, when the capture says so; known once the items have been read. */
  observedUntil(): number | undefined;
  progress(): CaptureProgress;
  /**
   * The items in file order (nearly, not always, time order: see timeline.ts), in batches: one await per batch
   * rather than per item is what keeps a replay fast.
   */
  items(): AsyncIterable<CaptureItem[]>;
  close(): void;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

export interface OpenOptions {
  /** Several inputs are read together: items need keys that tell duplicates (costs a hash per HAR body). */
  keys?: boolean;
}

/** Opens any capture `mdmtap analyze` accepts, by what the file holds. */
export async function openCapture(file: string, opts: OpenOptions = {}): Promise<CaptureSource> {
  let head: Buffer;
  try {
    const fd = openSync(file, 'r');
    try {
      head = Buffer.alloc(64 * 1024);
      head = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new CaptureFormatError(`cannot read ${file}: ${reason(e)}`);
  }
  if (head.toString('latin1', 0, 16) === SQLITE_MAGIC) {
    // Loaded on demand: HAR and JSONL users never need the native module.
    const { openSqliteSource } = await import('../store/sqlite-source.js');
    return openSqliteSource(file);
  }
  const text = head.toString('utf8').trimStart();
  if (text === '') throw new CaptureFormatError(`${file} is empty`);
  if (!text.startsWith('{')) throw new CaptureFormatError(`${file} is not a capture mdmtap can read (HAR, mdmtap JSON lines or SQLite)`);
  if (isEventLine(text)) return (await import('./jsonl-source.js')).openJsonlSource(file);
  return (await import('./har-source.js')).openHarSource(file, opts);
}

/** JSON lines start with one complete event object on the first line; a HAR is one document with a "log". */
function isEventLine(text: string): boolean {
  const nl = text.indexOf('\n');
  if (nl === -1) return false;
  try {
    const v = JSON.parse(text.slice(0, nl)) as Record<string, unknown>;
    return typeof v === 'object' && v !== null && typeof v.type === 'string' && typeof v.ts === 'string';
  } catch {
    return false;
  }
}

export function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES') return 'permission denied';
  if (err?.code === 'EISDIR') return 'it is a directory';
  return err?.message ?? String(e);
}

/**
 * When two files hold the same exchange: mdmtap's own ids (SQLite, its exports, its JSON lines) name it in
 * every format; other tools' HARs are matched on time, address and body.
 */
export function messageKey(m: MdmMessage): string {
  return `m|${m.exchangeId}|${m.ts}`;
}

export function pushKey(p: PushSeen): string {
  return `p|${p.ts}|${p.tokenPrefix}|${p.apnsStatus}`;
}
