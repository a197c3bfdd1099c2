/**
 * The capture a running proxy writes (SQLite unless --no-db): opened before the proxy listens, so the analyzer
 * starts with the tokens, open obligations and raised warnings of earlier runs and a deadline set before a restart
 * still fires on time.
 */
import type { LivePipeline } from '../live/pipeline.js';
import { openCaptureWriter } from '../store/capture-writer.js';
import { storeSink } from '../sinks/store.js';
import { VERSION } from '../version.js';

export interface SinkOptions {
  db?: string;
  keepSecrets: boolean;
  bodies: boolean;
  clientCertHeader?: string;
  options: Record<string, unknown>;
}

export interface OpenedSinks {
  /** What was restored from an existing capture. */
  restored: { tokens: number; obligations: number; warnings: number };
  close(): Promise<void>;
}

export async function openSinks(pipeline: LivePipeline, opts: SinkOptions): Promise<OpenedSinks> {
  const none = { restored: { tokens: 0, obligations: 0, warnings: 0 }, close: async () => {} };
  if (!opts.db) return none;
  const store = await openCaptureWriter(opts.db, {
    keepSecrets: opts.keepSecrets,
    bodies: opts.bodies,
    ...(opts.clientCertHeader ? { clientCertHeader: opts.clientCertHeader } : {}),
    onError: (e) => pipeline.error(e.kind, e.message),
    run: { version: VERSION, options: opts.options },
  });
  if (!store) return none;
  const state = store.state;
  for (const t of state.tokens) pipeline.analyzer.restoreToken(t.tokenHash, t.who, t.pushMagicHash);
  for (const o of state.obligations) pipeline.analyzer.restoreObligation(o);
  for (const w of state.warnings) pipeline.analyzer.restoreWarning(w);
  pipeline.addSink(storeSink(store));
  return {
    restored: { tokens: state.tokens.length, obligations: state.obligations.length, warnings: state.warnings.length },
    close: () => store.close(),
  };
}
