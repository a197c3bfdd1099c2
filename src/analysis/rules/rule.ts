/**
 * A rule watches the analyzer's facts and raises warnings. Each rule is one file exporting a factory; the
 * analyzer calls the hooks it implements, in the order the rules are listed in rules/index.ts. A rule keeps its
 * own per-channel state, so adding one touches nothing else.
 */
import type { RuleId, Severity, WhoFields } from '../events.js';
import type { CommandMessage, MalformedMessage, Platform, PushSeen } from '../../mdm/message.js';
import type { Outcome } from '../events.js';
import type { Session } from '../session.js';
import type { TokenEntry } from '../token-map.js';

export interface RaisedWarning {
  sessionId?: string;
  commandUUIDs?: string[];
  message: string;
  detail?: Record<string, string | number | boolean | string[]>;
}

export interface RuleContext {
  warn(rule: RuleId, severity: Severity, who: WhoFields, w: RaisedWarning): void;
  /** RequestType of a CommandUUID the server sent on this channel, if seen. */
  requestType(key: string, commandUUID: string): string | undefined;
  platform(who: WhoFields): Platform | undefined;
  readonly pushGraceMs: number;
}

export interface Rule {
  /** After a command-channel report and the server's reply were recorded in the session. */
  onReport?(ctx: RuleContext, s: Session, msg: CommandMessage): void;
  /** When a session ends, by the server's empty reply or by interruption. */
  onSessionEnd?(ctx: RuleContext, s: Session, outcome: Outcome, endedByServer: boolean): void;
  /** For every push seen, with the channel its token belongs to (undefined when unknown). */
  onPush?(ctx: RuleContext, push: PushSeen, target: TokenEntry | undefined): void;
  /** For a body that claims to be MDM and could not be decoded. */
  onMalformed?(ctx: RuleContext, msg: MalformedMessage | CommandMessage, who: WhoFields): void;
}

export type RuleFactory = () => Rule;
