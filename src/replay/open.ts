/**
 * Opens any capture `mdmtap analyze` accepts and returns its CaptureSource, telling the format by content (SQLite
 * header, HAR's log object, JSON lines), not by file name. Above the formats and the store, so each stays
 * ignorant of the others.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { CaptureFormatError } from '../capture/errors.js';
import type { CaptureSource, OpenOptions } from '../capture/source.js';
import { fileProblem } from '../util/file-errors.js';

const SQLITE_MAGIC = 'SQLite format 3\0';

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
    throw new CaptureFormatError(`cannot read ${file}: ${fileProblem(e)}`);
  }
  if (head.toString('latin1', 0, 16) === SQLITE_MAGIC) {
    // Loaded on demand: HAR and JSONL users never need the native module.
    const { openSqliteSource } = await import('../store/sqlite-source.js');
    return openSqliteSource(file);
  }
  const text = head.toString('utf8').trimStart();
  if (text === '') throw new CaptureFormatError(`${file} is empty`);
  if (!text.startsWith('{')) throw new CaptureFormatError(`${file} is not a capture mdmtap can read (HAR, mdmtap JSON lines or SQLite)`);
  if (isEventLine(text)) return (await import('../capture/jsonl-source.js')).openJsonlSource(file);
  return (await import('../capture/har-source.js')).openHarSource(file, opts);
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

