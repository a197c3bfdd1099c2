/**
 * Exchange: one HTTP request/response pair exactly as it crossed the wire.
 *
 * This is the one flow model every front end produces (the live proxy, the HAR / JSONL / SQLite readers) and the
 * only thing the decoder consumes, so a capture replays through the same pipeline as live traffic.
 */

import type { PlistDict } from '../plist/value.js';

/** Why an exchange has no (complete) response. */
export type ExchangeErrorKind =
  | 'upstream-unreachable'
  | 'bad-upstream-response'
  | 'connection-reset'
  | 'client-aborted'
  /** The device's request stopped parsing after it had begun to be forwarded (a bad chunk): it got a 400. */
  | 'malformed-request'
  | 'timeout'
  | 'tls';

export interface ExchangeError {
  kind: ExchangeErrorKind;
  message: string;
}

/** Header names are lower-case; repeated headers are joined with ", " (cookies with "; "). */
export type Headers = Record<string, string>;

export interface Exchange {
  /** Unique within a capture; stable across export and re-import. */
  id: string;
  /** Connection the request arrived on (several exchanges share one keep-alive connection). */
  connectionId: string;
  /** Epoch milliseconds: request started / response finished (or failed). */
  startedAt: number;
  endedAt: number;
  /** The MDM server as the device addressed it: host, with ":port" unless it is the scheme's default. */
  host: string;
  method: string;
  /** Path plus query string. */
  path: string;
  requestHeaders: Headers;
  /** The request body as captured (possibly only its first bytes; see requestTruncated). */
  requestBody: Uint8Array;
  requestTruncated: boolean;
  /** Total request body size on the wire, when known (it exceeds requestBody.length when truncated). */
  requestSize?: number;
  /** HTTP status of the response; 0 when none arrived (see error). */
  status: number;
  responseHeaders: Headers;
  responseBody: Uint8Array;
  responseTruncated: boolean;
  responseSize?: number;
  error?: ExchangeError;
  /**
   * For a body larger than what was kept: its identifying keys, read from the whole body as it passed (see
   * src/plist/key-scan.ts). Never holds a secret: only identity and status keys are read.
   */
  requestScan?: BodyScan;
  responseScan?: BodyScan;
  /**
   * Set on exchanges read back from a redacted capture (SQLite, mdmtap's HAR export): the hashes classify() would
   * have computed from the raw TokenUpdate body, so pushes still map to devices on replay.
   */
  redactedFacts?: RedactedFacts;
}

export interface BodyScan {
  /** The selected keys found; undefined when the body could not be read. */
  keys?: PlistDict;
  /** Why nothing could be read. */
  problem?: string;
}

export interface RedactedFacts {
  tokenHash?: string;
  tokenPrefix?: string;
  pushMagicHash?: string;
}

/** An empty body, shared so that exchanges without bodies allocate nothing. */
export const EMPTY_BODY: Uint8Array = new Uint8Array(0);
