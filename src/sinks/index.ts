/** The sinks a user configures from the command line (one file each): `mdmtap start` offers their flags. */
import type { OpenedSink, Sink, SinkModule, SinkRun } from './sink.js';
import { captureSink } from './capture.js';

export const SINK_MODULES: readonly SinkModule[] = [captureSink];

export interface OpenedSinks {
  /** One line per module for the start banner: where it writes, or why it is off. */
  status: string[];
  notices: string[];
  /** Closes what was opened; for a start that fails before the pipeline owns the sinks. */
  close(): Promise<void>;
}

/** Opens each module from the parsed options and hands its sink to `add` (the pipeline). */
export async function openSinkModules(modules: readonly SinkModule[], opts: Record<string, unknown>, run: SinkRun, add: (sink: Sink) => void): Promise<OpenedSinks> {
  const status: string[] = [];
  const notices: string[] = [];
  const opened: OpenedSink[] = [];
  for (const m of modules) {
    const o = await m.open(opts, run);
    if ('off' in o) {
      status.push(o.off);
      continue;
    }
    opened.push(o);
    add(o.sink);
    if (o.status) status.push(o.status);
    notices.push(...o.notices);
  }
  return { status, notices, close: async () => { for (const o of opened) await o.sink.close?.(); } };
}
