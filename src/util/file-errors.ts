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
