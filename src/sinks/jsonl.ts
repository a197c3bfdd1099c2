/**
 * The `--json` sink: DESIGN.md's events, one JSON object per line, on a stream (stdout by default).
 *
 * Lines are gathered and written once per event-loop turn: stdout to a file or a pipe is a synchronous write on
 * Linux, and one system call per event was measurable under load. Nothing is held longer than the current turn,
 * so a reader following the output (`| jq`, `tail -f`) sees events as promptly as before.
 */
import type { Writable } from 'node:stream';
import type { AnalyzerEvent } from '../model/events.js';
import type { Sink } from './sink.js';

export function jsonlSink(out: Writable = process.stdout): Sink {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    // A reader that went away (EPIPE) leaves the stream destroyed: what it would have read is dropped.
    if (!out.destroyed && out.writable) out.write(text);
  };
  return {
    event(ev: AnalyzerEvent) {
      pending += JSON.stringify(ev) + '\n';
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    close: flush,
  };
}
