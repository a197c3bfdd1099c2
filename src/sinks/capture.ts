/**
 * The SQLite capture as a sink: every exchange, push and event goes to the capture writer (a worker thread). As a
 * sink module it owns `--db`, `--no-db`, `--no-bodies` and `--keep-secrets`, and it is opened before the proxy
 * listens, so the analyzer starts with the tokens, open obligations and raised warnings of earlier runs and a
 * deadline set before a restart still fires on time.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CaptureStore } from '../store/capture-store.js';
import { openCaptureWriter, type CaptureWriter } from '../store/capture-writer.js';
import { VERSION } from '../version.js';
import type { Sink, SinkModule } from './sink.js';
import { UserError } from '../util/user-error.js';

export const DEFAULT_DB = 'mdmtap.sqlite';

/** The capture writer as a sink. */
export function storeSink(store: Pick<CaptureStore | CaptureWriter, 'recordExchange' | 'recordEvent' | 'recordPush' | 'close'>): Sink {
  return {
    exchange: (ex, msg, sessionId) => store.recordExchange(ex, msg, sessionId),
    push: (p) => store.recordPush(p),
    // An obligation `pending` at a stop is still owed: the capture keeps it open, so the next start restores it and
    // judges it at its original deadline (a replay of the file reports it pending by itself).
    event: (ev) => (ev.type === 'obligation' && ev.event === 'pending' ? undefined : store.recordEvent(ev)),
    close: () => store.close(),
  };
}

export interface CaptureOptions {
  db: string | false;
  bodies: boolean;
  keepSecrets?: boolean;
}

export const captureSink: SinkModule = {
  name: 'capture',
  addOptions(cmd: Command) {
    cmd
      .option('--db <file>', 'SQLite capture file', DEFAULT_DB)
      .option('--no-db', 'keep no capture')
      .option('--no-bodies', 'store exchange metadata only, no bodies')
      .option('--keep-secrets', 'store raw bodies and headers, secrets included (announced on every start)');
  },
  async open(raw, run) {
    const opts = raw as unknown as CaptureOptions;
    if (opts.db === false) return { off: 'capture off (--no-db)' };
    const file = resolve(opts.db);
    const notices: string[] = [];
    if (opts.keepSecrets) notices.push('WARNING: --keep-secrets: raw bodies and headers, with push tokens, PushMagic, PINs and passwords, are stored unredacted.');
    // A capture that cannot be opened stops the start: an auditor's run must not go unrecorded unnoticed.
    let openError: string | undefined;
    let opened = false;
    const store = await openCaptureWriter(file, {
      keepSecrets: opts.keepSecrets === true,
      bodies: opts.bodies,
      ...(run.clientCertHeader ? { clientCertHeader: run.clientCertHeader } : {}),
      onError: (e) => (opened ? run.onError(e.kind, e.message) : (openError ??= e.message)),
      run: { version: VERSION, options: run.recordedOptions },
    });
    opened = true;
    if (!store) throw new UserError(`--db: ${openError ?? `cannot open the capture ${file}`} (--no-db runs without a capture)`, 2);
    const state = store.state;
    for (const t of state.tokens) run.analyzer.restoreToken(t.tokenHash, t.who, t.pushMagicHash, t.checkedOut === true);
    for (const o of state.obligations) run.analyzer.restoreObligation(o);
    for (const w of state.warnings) run.analyzer.restoreWarning(w);
    const tokens = state.tokens.filter((t) => !t.checkedOut).length;
    if (tokens || state.obligations.length || state.warnings.length) {
      notices.push(`restored from the capture: ${tokens} push tokens, ${state.obligations.length} open push obligations, ${state.warnings.length} unresolved warnings`);
    }
    return { sink: storeSink(store), status: `capture ${file}`, notices };
  },
};
