/**
 * AnalyzerEvent: the one vocabulary every sink speaks (JSON lines, SQLite store, dashboard, exit code).
 * Field names follow DESIGN.md; `ts` is ISO 8601 UTC. Secrets never appear in events.
 */
import type { Channel, ErrorChainItem } from '../mdm/message.js';

export type Outcome = 'clean' | 'ended-on-notnow' | 'stranded' | 'interrupted';

/** How an obligation was discharged or a warning resolved. */
export type DischargeBy = 'push' | 'device-returned' | 'checked-out';

export type RuleId =
  | 'notnow-no-push'
  | 'interrupted-no-push'
  | 'notnow-not-resent'
  | 'notnow-retry-storm'
  | 'notnow-unexpected'
  | 'chronic-notnow'
  | 'malformed-body'
  | 'push-rejected'
  | 'push-unknown-token'
  | 'push-magic-mismatch';

export type Severity = 'warning' | 'info';

/** Identity fields shared by events about one device channel. */
export interface WhoFields {
  udid: string;
  channel: Channel;
  userId?: string;
  /** The MDM server the session ran against. */
  host?: string;
}

export interface ExchangeEvent extends WhoFields {
  type: 'exchange';
  ts: string;
  exchangeId: string;
  endpoint: 'command' | 'checkin';
  messageType?: string;
  status?: string;
  commandUUID?: string;
  /** CommandUUID and RequestType of the command the server replied with (command channel). */
  replyCommandUUID?: string;
  requestType?: string;
  /** RequestType of the command this report answers, when the analyzer saw it being sent. */
  answersRequestType?: string;
  errorChain?: ErrorChainItem[];
  /** What the server replied: a command, the empty end-of-session body, an HTTP error, or nothing. */
  reply?: 'command' | 'end' | 'http-error' | 'failed' | 'invalid';
  /** Why there was no response, when reply is 'failed'. */
  error?: string;
  httpStatus: number;
  /** Only on command-channel exchanges. */
  sessionId?: string;
  /** Set when the report carried UserConfiguration=true (Setup Assistant on the user channel). */
  userConfiguration?: boolean;
  /** Platform when known (from Authenticate / DeviceInformation), so a replay of events can judge iOS rules. */
  platform?: string;
  /** Token prefix on TokenUpdate check-ins (never the token). */
  tokenHex?: string;
}

export interface SessionEvent extends WhoFields {
  type: 'session';
  ts: string;
  event: 'start' | 'end';
  sessionId: string;
  outcome?: Outcome;
  lastStatus?: string;
  notNowCommands?: string[];
  /** Why an interrupted session counts as interrupted. */
  reason?: string;
  /** Number of command-channel exchanges in the session (on end). */
  exchanges?: number;
  /** The session ran in Setup Assistant with UserConfiguration: its NotNows are expected. */
  userConfiguration?: boolean;
}

export interface ObligationEvent extends WhoFields {
  type: 'obligation';
  ts: string;
  event: 'open' | 'discharged' | 'pending';
  sessionId: string;
  /** ISO 8601: when the push is due. */
  deadline: string;
  /** The outcome of the session that owes the push. */
  outcome?: Outcome;
  by?: DischargeBy;
}

export interface WarningEvent {
  type: 'warning';
  ts: string;
  rule: RuleId;
  severity: Severity;
  sessionId?: string;
  udid: string;
  channel: Channel;
  userId?: string;
  host?: string;
  commandUUIDs?: string[];
  message: string;
  /** Rule-specific extra facts (request types, APNs reason, counts). */
  detail?: Record<string, string | number | boolean | string[]>;
}

export interface ResolvedEvent extends WhoFields {
  type: 'resolved';
  ts: string;
  rule: RuleId;
  sessionId: string;
  by: DischargeBy;
}

export interface PushEvent {
  type: 'push';
  ts: string;
  udid?: string;
  channel?: Channel;
  userId?: string;
  /** The MDM server the woken device is enrolled with, as learned from its TokenUpdate. */
  host?: string;
  /** First 8 hex digits of the device token, then "…". */
  tokenHex?: string;
  apnsStatus: number;
  reason?: string;
}

export interface ErrorEvent {
  type: 'error';
  ts: string;
  kind: string;
  message: string;
}

export type AnalyzerEvent =
  | ExchangeEvent
  | SessionEvent
  | ObligationEvent
  | WarningEvent
  | ResolvedEvent
  | PushEvent
  | ErrorEvent;

export const iso = (ms: number): string => new Date(ms).toISOString();
