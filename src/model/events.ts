/**
 * AnalyzerEvent: the one vocabulary every sink speaks (JSON lines, SQLite store, dashboard, exit code).
 * Field names follow DESIGN.md; `ts` is ISO 8601 UTC. Secrets never appear in events.
 */
import type { Channel, DeclarationKind, DeclarationStatus, ErrorChainItem } from './message.js';

export type Outcome = 'clean' | 'ended-on-notnow' | 'recovered' | 'stranded' | 'interrupted';

/**
 * Why an interrupted session counts as interrupted (stable codes; the human text is in the event's `detail`).
 * `rejected`: the server refused a report with HTTP 4xx — nothing ran on the server, so no push is owed.
 */
export type InterruptReason = 'rejected' | 'http-error' | 'failed' | 'invalid-reply' | 'timeout' | 'new-session';

/**
 * How an obligation was discharged or a warning resolved. `accepted`: the server took the channel's reports again;
 * `synced`: the device fetched the declaration items; `valid`: a status report no longer marks the declaration
 * invalid; `acknowledged`: the device acknowledged the command.
 */
export type DischargeBy = 'push' | 'device-returned' | 'checked-out' | 'accepted' | 'synced' | 'valid' | 'acknowledged';

/** A rule's id: those of src/analysis/rules (stable; tests, exports and users' scripts rely on them). */
export type RuleId = string;

export type Severity = 'warning' | 'info';

/** Identity fields shared by events about one device channel. */
export interface WhoFields {
  udid: string;
  channel: Channel;
  userId?: string;
  /** The user's short name on a user channel (on Shared iPad, what tells the users apart: `userId` is it then). */
  userShortName?: string;
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
  /** TokenUpdate: SHA-256 (hex) of its PushMagic, so a replay of events can tell a push with another one. */
  pushMagicHash?: string;
  /** TokenUpdate's AwaitingConfiguration: the device is in Setup Assistant. */
  awaitingConfiguration?: boolean;
}

export interface SessionEvent extends WhoFields {
  type: 'session';
  ts: string;
  /** `pending`: still open when the capture (or the live run) ended. */
  event: 'start' | 'end' | 'pending';
  sessionId: string;
  outcome?: Outcome;
  lastStatus?: string;
  notNowCommands?: string[];
  /** On a `stranded` end: the refused commands still without a final status (what the push is owed for). */
  outstanding?: string[];
  /** Why an interrupted session counts as interrupted. */
  reason?: InterruptReason;
  /** The same in words (HTTP status, error kind, how long it was silent). */
  detail?: string;
  /** On start, when the channel's previous session ended on NotNow: how long the device took to come back. */
  sinceNotNowMs?: number;
  /** On start, when pushes reached the channel since its previous session: time since the first of them. */
  sincePushMs?: number;
  /** Number of command-channel exchanges in the session (on end). */
  exchanges?: number;
  /** The session began before mdmtap saw it (its first report was not Idle): its outcome covers what was seen. */
  partial?: boolean;
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
  /** Stable id of this warning (the same on every replay of the capture); `resolved` events name it. */
  warningId: string;
  rule: RuleId;
  severity: Severity;
  sessionId?: string;
  udid: string;
  channel: Channel;
  userId?: string;
  userShortName?: string;
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
  warningId: string;
  sessionId?: string;
  by: DischargeBy;
}

/**
 * A DDM exchange the server accepted (a `DeclarativeManagement` check-in, decoded in src/mdm/ddm.ts), or the
 * `DeclarativeManagement` command sent on the command channel (`event: 'command'`). The dashboard's timeline and
 * the capture's `declarations` table are built from these.
 */
export interface DdmEvent extends WhoFields {
  type: 'ddm';
  ts: string;
  exchangeId: string;
  event: 'tokens' | 'declaration-items' | 'declaration' | 'status' | 'other' | 'command';
  /** The check-in's Endpoint (not on `command`). */
  endpoint?: string;
  /** The server's DeclarationsToken: offered by a tokens or declaration-items response, or the command's SyncTokens. */
  declarationsToken?: string;
  /** declaration-items: the declarations the server offers. */
  items?: Array<{ kind: DeclarationKind; identifier: string; serverToken: string }>;
  /** declaration/<type>/<identifier>. */
  declaration?: { type: string; identifier: string };
  /** The command's CommandUUID (`event: 'command'`). */
  commandUUID?: string;
  /** The server answered 404. */
  notFound?: boolean;
  /** A status report: each declaration it names, whether it was full, and whether DDM's capabilities came with it. */
  full?: boolean;
  clientCapabilities?: boolean;
  declarations?: DeclarationStatus[];
  /** The request's Data or the answer is not the JSON it should be. */
  malformed?: { side: 'request' | 'response'; reason: string };
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
  /** SHA-256 (hex) of the push's PushMagic (`mdm`): a replay of the stream can tell a wrong one, as live did. */
  pushMagicHash?: string;
  apnsStatus: number;
  reason?: string;
  /** The request's APNs headers that decide delivery (values, not secrets). */
  apnsExpiration?: string;
  apnsPriority?: string;
  apnsTopic?: string;
}

export interface ErrorEvent {
  type: 'error';
  ts: string;
  kind: string;
  message: string;
}

/**
 * What a capture was judged with, so a replay in any format judges alike: the first line of a live stream
 * (`event: 'start'`) and the last one of a clean stop (`event: 'stop'`, at the moment mdmtap stopped watching).
 */
export interface CaptureEvent {
  type: 'capture';
  ts: string;
  event: 'start' | 'stop';
  /** Version of this metadata's shape. */
  format: 1;
  pushGraceMs: number;
  sessionTimeoutMs: number;
  /** Every other setting (each rule's, e.g. `pushWakeMs`, `returnWindowMs`), by key. */
  [setting: `${string}Ms`]: number;
}

export type AnalyzerEvent =
  | CaptureEvent
  | ExchangeEvent
  | SessionEvent
  | ObligationEvent
  | WarningEvent
  | ResolvedEvent
  | PushEvent
  | DdmEvent
  | ErrorEvent;
