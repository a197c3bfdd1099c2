/**
 * `-` as an input file: stdin, written to a private temporary file first. Every capture format is read by
 * seeking (the format is told from the head, SQLite needs a file), and the copy streams, so a capture of any size
 * arrives without being held in memory.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserError } from './errors.js';

export interface Spooled {
  path: string;
  remove(): void;
}

export async function spoolStdin(): Promise<Spooled> {
  if (process.stdin.isTTY) throw new UserError('-: stdin is a terminal; pipe a capture into it (mdmtap analyze - < capture.har)');
  const dir = mkdtempSync(join(tmpdir(), 'mdmtap-stdin-'));
  const path = join(dir, 'stdin');
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    await pipeline(process.stdin, createWriteStream(path, { mode: 0o600 }));
  } catch (e) {
    remove();
    throw new UserError(`-: cannot read stdin: ${(e as Error).message}`);
  }
  return { path, remove };
}
