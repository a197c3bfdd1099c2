/**
 * A rule watches the analyzer's facts and raises warnings. Each rule is one file exporting a factory; the
 * analyzer calls the hooks it implements, in the order the rules are listed in rules/index.ts. A rule keeps its
 * own per-channel state and its own deadlines (`ctx.at`), so adding one touches nothing else.
 */
import type { DischargeBy, Outcome, RuleId, Severity, WhoFields } from '../../model/events.js';
import type { CheckinMessage, CommandMessage, MalformedMessage, Platform, PushSeen } from '../../model/message.js';
import type { Session } from '../session.js';
import type { TokenEntry } from '../token-map.js';
import type { Timer } from '../timers.js';

export interface RaisedWarning {
  sessionId?: string;
  commandUUIDs?: string[];
  message: string;
  detail?: Record<string, string | number | boolean | string[]>;
}

/** The analyzer's settings a rule may read (all in ms). */
export interface RuleSettings {
  readonly pushGraceMs: number;
  readonly sessionTimeoutMs: number;
  readonly pushWakeMs: number;
  readonly returnWindowMs: number;
}

export interface RuleContext extends RuleSettings {
  /** Raises a warning stamped with the analyzer's current time; returns its `warningId`. */
  warn(rule: RuleId, severity: Severity, who: WhoFields, w: RaisedWarning): string;
  /** Marks a warning raised earlier as resolved, now. */
  resolve(warningId: string, rule: RuleId, who: WhoFields, by: DischargeBy, sessionId?: string): void;
  /** Calls `fn` when analyzer time reaches `due` (set `cancelled` on the handle to drop it). */
  at(due: number, fn: () => void): Timer;
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
}

export type RuleFactory = () => Rule;
