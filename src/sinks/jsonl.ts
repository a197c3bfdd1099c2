/** The `--json` sink: DESIGN.md's events, one JSON object per line, on a stream (stdout by default). */
import type { Writable } from 'node:stream';
import type { AnalyzerEvent } from '../analysis/events.js';
import type { Sink } from './sink.js';

export function jsonlSink(out: Writable = process.stdout): Sink {
  return {
    event(ev: AnalyzerEvent) {
      out.write(JSON.stringify(ev) + '\n');
    },
  };
}
