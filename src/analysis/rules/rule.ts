/**
 * A rule is one file under rules/: a RuleDefinition with its id, severity, the line the docs show for it, the
 * settings it reads (which become command-line flags of `start` and `analyze`), and the hooks that watch the
 * analyzer's facts. rules/index.ts lists them; nothing else names a rule: the store, the exports and the
 * dashboard read what they need from the definition (ruleInfo), and the docs' tables are checked against it.
 */
import type { DischargeBy, Outcome, Severity, WhoFields } from '../../model/events.js';
import type { CheckinMessage, CommandMessage, MalformedMessage, Platform, PushSeen } from '../../model/message.js';
import type { Session } from '../session.js';
import type { TokenEntry } from '../token-map.js';
import type { Timer } from '../timers.js';
import type { SettingSpec } from '../settings.js';

export interface RaisedWarning {
  sessionId?: string;
  commandUUIDs?: string[];
  message: string;
  detail?: Record<string, string | number | boolean | string[]>;
}

/** A push the analyzer held owed, whose deadline passed with no push and no return of the device. */
export interface ExpiredObligation {
  sessionId: string;
  who: WhoFields;
  openedAt: number;
  deadline: number;
  outcome: Outcome;
  /** Refused commands still without a final status (stranded sessions). */
  commandUUIDs: string[];
  /** The stranded commands or the interruption, in words. */
  what: string;
}

export interface RuleContext {
  /** Raises this rule's warning, stamped with the analyzer's current time; returns its `warningId`. */
  warn(who: WhoFields, w: RaisedWarning): string;
  /** Marks a warning of this rule raised earlier as resolved, now. */
  resolve(warningId: string, who: WhoFields, by: DischargeBy, sessionId?: string): void;
  /** Calls `fn` when analyzer time reaches `due` (set `cancelled` on the handle to drop it). */
  at(due: number, fn: () => void): Timer;
  /** A setting's value (ms): the analyzer's own (`pushGraceMs`, `sessionTimeoutMs`) or a rule's. */
  setting(key: `${string}Ms`): number;
  /** RequestType of a CommandUUID the server sent on this channel, if seen. */
  requestType(key: string, commandUUID: string): string | undefined;
  platform(who: WhoFields): Platform | undefined;
  /** Whether the channel has a session open right now. */
  inSession(key: string): boolean;
}

export interface Rule {
  /** After a command-channel report the server accepted, and its reply, were recorded in the session. */
  onReport?(ctx: RuleContext, s: Session, msg: CommandMessage): void;
  /** A report or check-in the server refused with HTTP 4xx (nothing ran on the server). */
  onRejected?(ctx: RuleContext, msg: CommandMessage | CheckinMessage, who: WhoFields, key: string): void;
  /** A check-in the server accepted. */
  onCheckin?(ctx: RuleContext, msg: CheckinMessage, who: WhoFields, key: string): void;
  /** When a session starts (its first report is already counted in `s`). */
  onSessionStart?(ctx: RuleContext, s: Session): void;
  /** When a session ends, by the server's empty reply or by interruption. */
  onSessionEnd?(ctx: RuleContext, s: Session, outcome: Outcome, endedByServer: boolean): void;
  /**
   * For every push seen, with the channel its token belongs to (undefined when unknown) and whether it can wake
   * the device (APNs accepted it and the PushMagic is the channel's).
   */
  onPush?(ctx: RuleContext, push: PushSeen, target: TokenEntry | undefined, wakes: boolean): void;
  /** For a body that claims to be MDM and could not be decoded. */
  onMalformed?(ctx: RuleContext, msg: MalformedMessage | CommandMessage, who: WhoFields): void;
  /**
   * A push obligation reached its deadline undischarged. The rule that judges this kind of obligation raises its
   * warning and returns the id (a later push or return resolves it); the others return undefined.
   */
  onObligationExpired?(ctx: RuleContext, o: ExpiredObligation): string | undefined;
}

export interface RuleDefinition {
  /** Stable: tests, exports and users' scripts rely on it. */
  readonly id: string;
  readonly severity: Severity;
  /**
   * What raises it, in one line: the README's rules table says exactly this, and design.md's lists the same ids and
   * severities with the precise condition (test/analysis/registry.test.ts holds both to the definitions).
   */
  readonly summary: string;
  /**
   * Raised when a push obligation expires: the capture marks the obligation warned, a restart re-arms it so a
   * late push still resolves it, and the dashboard shows the channel stranded.
   */
  readonly judgesObligations?: boolean;
  /** Settings the rule reads: each becomes a flag of `mdmtap start` and `mdmtap analyze`, recorded in captures. */
  readonly settings?: readonly SettingSpec[];
  /** A fresh instance per analyzer (rules keep per-channel state of their own). */
  create(): Rule;
}

/** Declares a rule (an identity function that keeps the definition's literal types). */
export function defineRule<const D extends RuleDefinition>(d: D): D {
  return d;
}
