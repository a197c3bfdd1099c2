/**
 * The Analyzer: MdmMessages and pushes in, AnalyzerEvents out. It follows every session from Idle to the empty
 * reply, judges it by Apple's NotNow rule, tracks the pushes owed, and runs the rules.
 *
 * Pure on purpose: no I/O and no clock. Time comes from the messages (`ts` = when the exchange finished) and from
 * `advance(now)`, so the live proxy and `mdmtap analyze` produce the same events for the same traffic, and tests
 * need no sleeps.
 */
import type { AnalyzerEvent, DischargeBy, ExchangeEvent, Outcome, RuleId, Severity, WhoFields } from './events.js';
import { iso } from './events.js';
import type { CheckinMessage, CommandMessage, Identity, MalformedMessage, MdmMessage, Platform, PushSeen } from '../mdm/message.js';
import { platformOf } from '../mdm/catalogue.js';
import { TimerQueue, type Timer } from './timers.js';
import { FINAL_STATUSES, endedOutcome, newSession, owesPush, refusedOutstanding, type Session } from './session.js';
import { TokenMap } from './token-map.js';
import { ObligationBook } from './obligations.js';
import { RULES } from './rules/index.js';
import type { RaisedWarning, Rule, RuleContext } from './rules/rule.js';
import { magicMismatch } from './rules/push-magic-mismatch.js';
import { commandList } from './messages.js';

export interface AnalyzerOptions {
  /** How long a server has to push after a session that owes one (default 120 s). */
  pushGraceMs?: number;
  /** A session with no exchange for this long ends as interrupted (default 60 s). */
  sessionTimeoutMs?: number;
}

export const DEFAULT_PUSH_GRACE_MS = 120_000;
export const DEFAULT_SESSION_TIMEOUT_MS = 60_000;
/** RequestTypes remembered per channel, so memory stays bounded on long captures. */
const MAX_KNOWN_COMMANDS = 512;

interface ChannelState {
  who: WhoFields;
  session?: Session;
  timeout?: Timer;
  /** CommandUUID → RequestType of commands the server sent on this channel (bounded, oldest dropped). */
  commands: Map<string, string>;
}

/** What a restart hands back from the store so nothing owed is forgotten. */
export interface RestoredObligation {
  sessionId: string;
  who: WhoFields;
  openedAt: number;
  deadline: number;
  outcome: Outcome;
  commandUUIDs?: string[];
}

export class Analyzer {
  readonly pushGraceMs: number;
  readonly sessionTimeoutMs: number;

  /** Channels (device or user) with state held: what memory grows with. */
  get trackedChannels(): number {
    return this.channels.size;
  }

  private clock = -Infinity;
  private out: AnalyzerEvent[] = [];
  private readonly timers = new TimerQueue();
  private readonly channels = new Map<string, ChannelState>();
  private readonly platforms = new Map<string, Platform>();
  private readonly tokens = new TokenMap();
  private readonly obligations: ObligationBook;
  private readonly rules: Rule[];
  private readonly ctx: RuleContext;

  constructor(opts: AnalyzerOptions = {}) {
    this.pushGraceMs = opts.pushGraceMs ?? DEFAULT_PUSH_GRACE_MS;
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.obligations = new ObligationBook(this.timers, (ev) => this.out.push(ev), this.pushGraceMs);
    this.rules = RULES.map((f) => f());
    this.ctx = {
      pushGraceMs: this.pushGraceMs,
      warn: (rule, severity, who, w) => this.warn(rule, severity, who, w, this.clockTs),
      requestType: (key, uuid) => this.channels.get(key)?.commands.get(uuid),
      platform: (who) => this.platforms.get(platformKey(who)),
    };
  }

  /** Timestamp of what is being processed now; rules' warnings carry it. */
  private clockTs = 0;

  feed(msg: MdmMessage): AnalyzerEvent[] {
    this.runTimers(msg.ts);
    this.clockTs = msg.ts;
    switch (msg.endpoint) {
      case 'checkin':
        this.checkin(msg);
        break;
      case 'command':
        this.command(msg);
        break;
      case 'malformed':
        this.malformed(msg, msg.identity);
        break;
    }
    return this.drain();
  }

  feedPush(push: PushSeen): AnalyzerEvent[] {
    this.runTimers(push.ts);
    this.clockTs = push.ts;
    const target = this.tokens.lookup(push.tokenHash);
    this.out.push({
      type: 'push',
      ts: iso(push.ts),
      ...(target ? target.who : {}),
      tokenHex: `${push.tokenPrefix}…`,
      apnsStatus: push.apnsStatus,
      ...(push.reason ? { reason: push.reason } : {}),
    });
    for (const r of this.rules) r.onPush?.(this.ctx, push, target);
    const delivered = push.apnsStatus >= 200 && push.apnsStatus < 300;
    // A rejected push, or one the device would ignore (wrong PushMagic), wakes nothing and discharges nothing.
    if (target && delivered && !magicMismatch(push.pushMagicHash, target.pushMagicHash)) {
      this.obligations.discharge(target.key, 'push', push.ts);
    }
    return this.drain();
  }

  /** Moves time forward: session timeouts and push deadlines due by `now` fire, stamped with their own time. */
  advance(now: number): AnalyzerEvent[] {
    this.runTimers(now);
    return this.drain();
  }

  /** End of a capture: run the clock to `now`, then report every obligation still open as pending. */
  finish(now: number): AnalyzerEvent[] {
    this.runTimers(now);
    this.out.push(...this.obligations.pending(now));
    return this.drain();
  }

  restoreToken(tokenHash: string, who: WhoFields, pushMagicHash?: string): void {
    this.tokens.set({ tokenHash, key: keyOf(who), who, ...(pushMagicHash ? { pushMagicHash } : {}) });
  }

  restoreObligation(o: RestoredObligation): void {
    this.obligations.add(
      {
        sessionId: o.sessionId,
        key: keyOf(o.who),
        who: o.who,
        openedAt: o.openedAt,
        deadline: o.deadline,
        outcome: o.outcome,
        commandUUIDs: o.commandUUIDs ?? [],
        what: o.outcome === 'stranded' ? commandList(o.commandUUIDs ?? [], () => undefined) : 'before a restart of mdmtap',
      },
      false,
    );
  }

  restoreWarning(w: { rule: RuleId; sessionId: string; who: WhoFields }): void {
    this.obligations.restoreRaised(keyOf(w.who), w);
  }

  /** Channels with an open session, obligations open: for dashboards and benchmarks. */
  stats(): { channels: number; openSessions: number; openObligations: number; tokens: number } {
    let openSessions = 0;
    for (const c of this.channels.values()) if (c.session) openSessions++;
    return { channels: this.channels.size, openSessions, openObligations: this.obligations.openCount, tokens: this.tokens.size };
  }

  // --- messages ---------------------------------------------------------------------------------------------

  private checkin(msg: CheckinMessage): void {
    const who = whoOf(msg.identity, msg.host);
    const key = keyOf(who);
    if (msg.device) this.learnPlatform(who, msg.device);
    if (msg.messageType === 'TokenUpdate' && msg.tokenHash) {
      this.tokens.set({ tokenHash: msg.tokenHash, key, who, ...(msg.pushMagicHash ? { pushMagicHash: msg.pushMagicHash } : {}) });
    }
    const ev: ExchangeEvent = {
      type: 'exchange',
      ts: iso(msg.ts),
      ...who,
      exchangeId: msg.exchangeId,
      endpoint: 'checkin',
      messageType: msg.messageType,
      httpStatus: msg.httpStatus,
    };
    const platform = this.platforms.get(platformKey(who));
    if (platform) ev.platform = platform;
    if (msg.userConfiguration) ev.userConfiguration = true;
    if (msg.tokenPrefix) ev.tokenHex = `${msg.tokenPrefix}…`;
    this.out.push(ev);
    if (msg.messageType === 'CheckOut') {
      // The enrollment is gone: nothing can be pushed to it any more, so nothing is owed.
      this.tokens.removeEnrollment(msg.host, who.udid);
      for (const [k, c] of this.channels) {
        if (c.who.udid === who.udid && c.who.host === who.host) this.obligations.discharge(k, 'checked-out', msg.ts);
      }
    }
  }

  private command(msg: CommandMessage): void {
    const who = whoOf(msg.identity, msg.host);
    const key = keyOf(who);
    const ch = this.channel(key, who);
    if (msg.device) this.learnPlatform(who, msg.device);

    let s = ch.session;
    if (s && msg.status === 'Idle') {
      // The device started over before the server ended the last session; its return makes a push moot.
      this.endSession(ch, s, 'interrupted', msg.ts, 'new session began first', false);
      s = undefined;
    }
    if (!s) {
      this.obligations.discharge(key, 'device-returned', msg.ts);
      s = newSession(key, who, msg.ts);
      ch.session = s;
      this.out.push({ type: 'session', ts: iso(msg.ts), event: 'start', sessionId: s.id, ...who });
    }

    s.exchanges++;
    s.lastTs = msg.ts;
    s.lastStatus = msg.status;
    if (msg.userConfiguration && who.channel === 'user') s.userConfiguration = true;
    const uuid = msg.commandUUID;
    if (uuid && msg.status === 'NotNow' && !s.notNow.includes(uuid)) s.notNow.push(uuid);
    if (uuid && FINAL_STATUSES.has(msg.status)) s.finals.add(uuid);
    if (msg.reply.kind === 'command') {
      s.sent.set(msg.reply.commandUUID, msg.reply.requestType);
      remember(ch.commands, msg.reply.commandUUID, msg.reply.requestType);
    }

    const ev: ExchangeEvent = {
      type: 'exchange',
      ts: iso(msg.ts),
      ...who,
      exchangeId: msg.exchangeId,
      endpoint: 'command',
      status: msg.status,
      httpStatus: msg.httpStatus,
      sessionId: s.id,
      reply: msg.reply.kind,
    };
    if (uuid) ev.commandUUID = uuid;
    const answers = uuid ? ch.commands.get(uuid) : undefined;
    if (answers) ev.answersRequestType = answers;
    if (msg.reply.kind === 'command') {
      ev.replyCommandUUID = msg.reply.commandUUID;
      ev.requestType = msg.reply.requestType;
    }
    if (msg.reply.kind === 'failed') ev.error = msg.reply.error;
    if (msg.errorChain) ev.errorChain = msg.errorChain;
    if (msg.userConfiguration) ev.userConfiguration = true;
    const platform = this.platforms.get(platformKey(who));
    if (platform) ev.platform = platform;
    this.out.push(ev);

    for (const r of this.rules) r.onReport?.(this.ctx, s, msg);
    if (msg.malformedResponse) this.malformed(msg, msg.identity);

    switch (msg.reply.kind) {
      case 'command':
        this.armTimeout(ch, s);
        break;
      case 'end':
        this.endSession(ch, s, endedOutcome(s), msg.ts, undefined, true);
        break;
      case 'http-error':
        this.endSession(ch, s, 'interrupted', msg.ts, `HTTP ${msg.reply.httpStatus} from the server`, true);
        break;
      case 'failed':
        this.endSession(ch, s, 'interrupted', msg.ts, `exchange failed: ${msg.reply.error}`, true);
        break;
      case 'invalid':
        this.endSession(ch, s, 'interrupted', msg.ts, `the server's reply was not a command: ${msg.reply.reason}`, true);
        break;
    }
  }

  private malformed(msg: MalformedMessage | CommandMessage, identity: Identity | undefined): void {
    const who: WhoFields = identity ? whoOf(identity, msg.host) : { udid: 'unknown', channel: 'device', host: msg.host };
    for (const r of this.rules) r.onMalformed?.(this.ctx, msg, who);
  }

  // --- sessions ---------------------------------------------------------------------------------------------

  private endSession(ch: ChannelState, s: Session, outcome: Outcome, ts: number, reason: string | undefined, mayOwe: boolean): void {
    ch.session = undefined;
    if (ch.timeout) ch.timeout.cancelled = true;
    ch.timeout = undefined;
    this.out.push({
      type: 'session',
      ts: iso(ts),
      event: 'end',
      sessionId: s.id,
      ...s.who,
      outcome,
      ...(s.lastStatus ? { lastStatus: s.lastStatus } : {}),
      ...(s.notNow.length ? { notNowCommands: [...s.notNow] } : {}),
      ...(reason ? { reason } : {}),
      exchanges: s.exchanges,
      ...(s.userConfiguration ? { userConfiguration: true } : {}),
    });
    const endedByServer = outcome !== 'interrupted';
    for (const r of this.rules) r.onSessionEnd?.(this.ctx, s, outcome, endedByServer);
    if (mayOwe && owesPush(outcome, s)) {
      const outstanding = refusedOutstanding(s);
      this.obligations.add({
        sessionId: s.id,
        key: s.key,
        who: s.who,
        openedAt: ts,
        deadline: ts + this.pushGraceMs,
        outcome,
        commandUUIDs: outcome === 'stranded' ? outstanding : [],
        what:
          outcome === 'stranded'
            ? commandList(outstanding.length ? outstanding : s.notNow, (u) => ch.commands.get(u))
            : (reason ?? 'interrupted'),
      });
    }
  }

  private armTimeout(ch: ChannelState, s: Session): void {
    if (ch.timeout) ch.timeout.cancelled = true;
    const due = s.lastTs + this.sessionTimeoutMs;
    ch.timeout = this.timers.add(due, () => {
      if (ch.session !== s) return;
      this.clockTs = due;
      this.endSession(ch, s, 'interrupted', due, `no report for ${Math.round(this.sessionTimeoutMs / 1000)}s (timeout)`, true);
    });
  }

  private runTimers(now: number): void {
    if (now > this.clock) this.clock = now;
    // Out-of-order input is evaluated at the analyzer's clock, never rewinding it.
    for (let t = this.timers.popDue(this.clock); t; t = this.timers.popDue(this.clock)) {
      this.clockTs = t.due;
      t.fire();
    }
  }

  private channel(key: string, who: WhoFields): ChannelState {
    let ch = this.channels.get(key);
    if (!ch) this.channels.set(key, (ch = { who, commands: new Map() }));
    return ch;
  }

  private learnPlatform(who: WhoFields, facts: Parameters<typeof platformOf>[0]): void {
    const p = platformOf(facts);
    if (p) this.platforms.set(platformKey(who), p);
  }

  private warn(rule: RuleId, severity: Severity, who: WhoFields, w: RaisedWarning, ts: number): void {
    this.out.push({
      type: 'warning',
      ts: iso(ts),
      rule,
      severity,
      ...(w.sessionId ? { sessionId: w.sessionId } : {}),
      ...who,
      ...(w.commandUUIDs ? { commandUUIDs: w.commandUUIDs } : {}),
      message: w.message,
      ...(w.detail ? { detail: w.detail } : {}),
    });
  }

  private drain(): AnalyzerEvent[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

function whoOf(id: Identity, host: string): WhoFields {
  const who: WhoFields = { udid: id.udid, channel: id.channel };
  if (id.userId) who.userId = id.userId;
  who.host = host;
  return who;
}

export function keyOf(who: WhoFields): string {
  return `${who.host ?? ''}|${who.udid}|${who.channel}|${who.userId ?? ''}`;
}

/** Platform belongs to the device, whichever channel told us. */
function platformKey(who: WhoFields): string {
  return `${who.host ?? ''}|${who.udid}`;
}

function remember(m: Map<string, string>, uuid: string, requestType: string): void {
  m.delete(uuid);
  m.set(uuid, requestType);
  if (m.size > MAX_KNOWN_COMMANDS) m.delete(m.keys().next().value!);
}

export type { DischargeBy };
