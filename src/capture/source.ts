/**
 * A capture as a stream: what `mdmtap analyze` reads, one item at a time, whatever the file's size. Each format
 * (HAR, mdmtap JSON lines, mdmtap SQLite) is a CaptureSource (src/replay/open.ts tells which by content).
 * Items are already classified (MdmMessage) or pushes, each with the instant the analyzer evaluates it at and a
 * key that says when two files hold the same exchange.
 */
import type { MdmMessage, PushSeen } from '../model/message.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';

export type CaptureFormat = 'har' | 'jsonl' | 'sqlite';

export type CaptureItem =
  | { kind: 'message'; ts: number; key: string; message: MdmMessage }
  | { kind: 'push'; ts: number; key: string; push: PushSeen }
  /**
   * mdmtap stopped watching here (the end of one run of a capture of several): see Analyzer.suspend. `settings`:
   * what the run after it was started with, when the capture says.
   */
  | { kind: 'suspend'; ts: number; key: string; settings?: AnalyzerOptions };

export interface CaptureProgress {
  done: number;
  total: number;
  /** `percent`: several inputs measured differently, as shares of the whole. */
  unit: 'bytes' | 'rows' | 'percent';
}

export interface CaptureSource {
  readonly name: string;
  readonly format: CaptureFormat;
  /** Items come in end-time order by construction, so the timeline need not reorder them. */
  readonly ordered?: boolean;
  /** The analyzer settings the capture says it was judged with live (mdmtap's captures and exports). */
  readonly recorded: AnalyzerOptions | undefined;
  /** Exchanges read so far (HAR, SQLite) or exchange events (JSON lines). */
  readonly exchanges: number;
  /** Until when mdmtap was watching, when the capture says so; known once the items have been read. */
  observedUntil(): number | undefined;
  progress(): CaptureProgress;
  /**
   * The items in file order (nearly, not always, time order: see timeline.ts), in batches: one await per batch
   * rather than per item is what keeps a replay fast.
   */
  items(): AsyncIterable<CaptureItem[]>;
  close(): void;
}

export interface OpenOptions {
  /** Several inputs are read together: items need keys that tell duplicates (costs a hash per HAR body). */
  keys?: boolean;
}

/**
 * When two files hold the same exchange: mdmtap's own ids (SQLite, its exports, its JSON lines) name it in
 * every format; other tools' HARs are matched on time, address and body.
 */
export function messageKey(m: MdmMessage): string {
  return `m|${m.exchangeId}|${m.ts}`;
}

export function pushKey(p: PushSeen): string {
  return `p|${p.ts}|${p.tokenPrefix}|${p.apnsStatus}`;
}

/** The end of a run (Analyzer.suspend): the same instant is one suspend whichever file says so. */
export function suspendItem(ts: number, settings?: AnalyzerOptions): CaptureItem {
  return settings ? { kind: 'suspend', ts, key: `s|${ts}`, settings } : { kind: 'suspend', ts, key: `s|${ts}` };
}
