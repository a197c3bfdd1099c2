/**
 * One command-channel session: from the report that opens it (normally Idle) to the server's zero-length reply,
 * and the outcome Apple's NotNow rule gives it.
 */
import { sha256Hex } from '../mdm/hash.js';
import type { Outcome, WhoFields } from '../model/events.js';

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['Acknowledged', 'Error', 'CommandFormatError']);

export interface Session {
  id: string;
  key: string;
  who: WhoFields;
  startTs: number;
  lastTs: number;
  exchanges: number;
  /** Exchanges of the session the server took (a refused report is counted in `exchanges` only). */
  accepted: number;
  lastStatus?: string;
  /** NotNow'd CommandUUIDs in the order first refused. */
  notNow: string[];
  /** CommandUUIDs that reached a final status in this session (reports the server accepted). */
  finals: Set<string>;
  /** Commands the server sent in this session: CommandUUID → RequestType. */
  sent: Map<string, string>;
  userConfiguration: boolean;
  /** Began with a report other than Idle: mdmtap did not see its start, so what came before is unknown. */
  partial?: boolean;
}

/** Deterministic, so a replay of a capture names sessions exactly as the live run did. */
export function sessionId(key: string, startTs: number): string {
  return 's-' + sha256Hex(`${key}|${startTs}`).slice(0, 12);
}

export function newSession(key: string, who: WhoFields, ts: number): Session {
  return {
    id: sessionId(key, ts),
    key,
    who,
    startTs: ts,
    lastTs: ts,
    exchanges: 0,
    accepted: 0,
    notNow: [],
    finals: new Set(),
    sent: new Map(),
    userConfiguration: false,
  };
}

/**
 * The outcome of a session the server ended with a zero-length reply. After a NotNow the device polls by itself
 * only if NotNow was its last status; otherwise what matters is whether a refused command is still without a
 * final status: if every one was completed later in the session (NanoMDM re-offers them), nothing is stranded.
 */
export function endedOutcome(s: Session): Outcome {
  if (s.notNow.length === 0) return 'clean';
  if (s.lastStatus === 'NotNow') return 'ended-on-notnow';
  return refusedOutstanding(s).length === 0 ? 'recovered' : 'stranded';
}

/** Apple: the device polls again by itself only when NotNow was its last status; otherwise a push is owed. */
export function owesPush(outcome: Outcome, s: Session): boolean {
  if (s.userConfiguration) return false;
  if (outcome === 'stranded') return true;
  return outcome === 'interrupted' && s.lastStatus !== 'NotNow';
}

/** NotNow'd commands that never reached a final status in the session. */
export function refusedOutstanding(s: Session): string[] {
  return s.notNow.filter((u) => !s.finals.has(u));
}
