/**
 * A sink: one consumer of the pipeline's output (JSON lines, the SQLite capture, the dashboard). The pipeline never
 * knows what a sink does with what it gets.
 *
 * A sink a user turns on and configures from the command line is a SinkModule, one file under sinks/ listed in
 * sinks/index.ts: it declares its own flags (which `mdmtap start` offers) and opens itself from them. Adding one
 * touches that file and that list, nothing in the command line.
 */
import type { Command } from 'commander';
import type { AnalyzerEvent } from '../model/events.js';
import type { Exchange } from '../model/exchange.js';
import type { MdmMessage, PushSeen } from '../model/message.js';
import type { Analyzer } from '../analysis/analyzer.js';

export interface Sink {
  /** Every analyzer event, in order. */
  event(ev: AnalyzerEvent): void;
  /**
   * Every exchange, with what it meant (undefined when it was not MDM) and its session. The bodies are lent for the
   * call: the capture writer moves the proxy's own large copies to its thread afterwards (src/model/sole-copy.ts),
   * so a sink that keeps a body for later keeps `keptBody(body)`.
   */
  exchange?(ex: Exchange, msg: MdmMessage | undefined, sessionId: string | undefined): void;
  /** Every push seen on the way to APNs (before the analyzer's `push` event, which carries only a prefix). */
  push?(p: PushSeen): void;
  /** Flush and release; called once on shutdown. */
  close?(): void | Promise<void>;
}

/** What a sink module is given when a run starts. */
export interface SinkRun {
  /** The analyzer, before any traffic: a sink that keeps state across runs restores it here. */
  analyzer: Analyzer;
  /** Reports a fault of the sink as an `error` event. */
  onError(kind: string, message: string): void;
  /** The run's options as they may be recorded (credentials already removed). */
  recordedOptions: Record<string, unknown>;
  /** The header that carries the device's certificate (`--client-cert-header`): redacted like a secret. */
  clientCertHeader?: string;
}

export interface OpenedSink {
  sink: Sink;
  /** A line for the start banner (e.g. where the capture goes). */
  status?: string;
  /** Notices a person must see at start (security warnings, what was restored). */
  notices: string[];
}

export interface SinkModule {
  readonly name: string;
  /** Adds the sink's flags to a command. */
  addOptions(cmd: Command): void;
  /**
   * Opens the sink from the parsed options, before the proxy listens; `off` with its status line when the options
   * turn it off. Throws a UserError for a mistake in its options.
   */
  open(opts: Record<string, unknown>, run: SinkRun): Promise<OpenedSink | { off: string }>;
}
