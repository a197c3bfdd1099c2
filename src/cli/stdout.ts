/**
 * What happens when stdout's reader goes away (`mdmtap start --json | jq` and jq exits). A command that reads and
 * prints (analyze, export) leaves quietly, as other tools do. A running proxy must not: devices depend on it, and
 * its capture still records everything. It stops printing, says so once on stderr, and keeps going.
 */
let keepRunning = false;
let gone = false;

export function keepRunningWhenStdoutCloses(): void {
  keepRunning = true;
}

/** Whether stdout's reader has gone (writes are dropped from then on). */
export function stdoutGone(): boolean {
  return gone;
}

export function installStdoutPolicy(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' && keepRunning) {
      if (!gone) process.stderr.write('mdmtap: stdout was closed by its reader: events are no longer printed; the proxy keeps running and the capture keeps recording\n');
      gone = true;
      return;
    }
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`mdmtap: cannot write the output: ${e.message}\n`);
    process.exit(1);
  });
}
