import { statSync } from 'node:fs';
import { dirname } from 'node:path';

/** File errors in the words a person reads: one phrase per kind, the same in every command. */
export function fileProblem(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return 'permission denied';
  if (err?.code === 'EISDIR') return 'it is a directory';
  if (err?.code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (err?.code === 'EROFS') return 'read-only file system';
  if (err?.code === 'ENOSPC') return 'no space left on the device';
  return err?.message ?? String(e);
}

/**
 * Why a file cannot be created where it is named, asked of its folder: libraries such as SQLite say only "unable to
 * open" and lose the errno.
 */
export function folderProblem(file: string): string | undefined {
  try {
    if (!statSync(dirname(file)).isDirectory()) return 'a part of the path is not a directory';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'its folder does not exist' : fileProblem(e);
  }
  return undefined;
}
