/**
 * The process-level last resort for `start` and `demo`. Every path that reads device or server input is guarded
 * where it reads; should an exception still escape one (a bug), it becomes an `error` event (`uncaught`) with where
 * it came from, and mdmtap goes on serving — the guards sit around single connections and exchanges, so one that
 * failed leaves no shared state half-changed. Node's default, a silent-to-the-dashboard death, loses the capture's
 * last batch and every device's connection.
 */
export function installLastResort(report: (kind: string, message: string) => void): () => void {
  const handle = (what: string) => (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    const where = (err.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' < ');
    try {
      report('uncaught', `${what}: ${err.message}${where ? ` (${where})` : ''}`);
    } catch {
      process.stderr.write(`mdmtap: ${what}: ${err.stack ?? err.message}\n`);
    }
  };
  const onException = handle('uncaught exception');
  const onRejection = handle('unhandled rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
