/**
 * The Analyzer: MdmMessages and pushes in, AnalyzerEvents out. It follows every session from Idle to the empty
 * reply, judges it by Apple's NotNow rule, tracks the pushes owed, and runs the rules.
 *
 * Pure on purpose: no I/O and no clock. Time comes from the messages (`ts` = when the exchange finished) and from
 * `advance(now)`, so the live proxy and `mdmtap analyze` produce the same events for the same traffic, and tests
 * need no sleeps.
 */
import type {
  AnalyzerEvent,
  CaptureEvent,
  DdmEvent,
  DischargeBy,
  ExchangeEvent,
  InterruptReason,
  Outcome,
  Severity,
  WhoFields,
} from '../model/events.js';
import { iso } from '../util/iso.js';
import type { CheckinMessage, CommandMessage, Identity, MalformedMessage, MdmMessage, Platform, PushSeen } from '../model/message.js';
import { platformOf } from '../mdm/catalogue.js';
import { sha256Hex } from '../mdm/hash.js';
import { TimerQueue, type Timer } from './timers.js';
import { FINAL_STATUSES, endedOutcome, newSession, owesPush, refusedOutstanding, type Session } from './session.js';
import { TokenMap } from './token-map.js';
import { ObligationBook } from './obligations.js';
import type { RaisedWarning, Rule, RuleContext, RuleDefinition } from './rules/rule.js';
import { defaultSettings, RULES } from './registry.js';
import type { Settings } from './settings.js';
import { magicMismatch } from './rules/push-magic-mismatch.js';
import { commandList } from './messages.js';
import { RecentMap } from '../util/recent-map.js';

/**
 * Settings (ms), by key: `pushGraceMs`, `sessionTimeoutMs` and each rule's (see registry.ts); what is not given
 * takes its default.
 */
export type AnalyzerOptions = Partial<Settings>;

/** RequestTypes remembered per channel, so memory stays bounded on long captures. */
const MAX_KNOWN_COMMANDS = 64;
/** Exchange failures that happen before a byte of the request reaches the server (connect, TLS handshake). */
const NEVER_REACHED_SERVER: ReadonlySet<string> = new Set(['upstream-unreachable', 'tls']);

interface ChannelState {
  who: WhoFields;
  session?: Session;
  timeout?: Timer;
  /** CommandUUID → RequestType of commands the server sent on this channel (bounded, oldest dropped). */
  commands: Map<string, string>;
  /** How and when the channel's previous session ended. */
  lastEnd?: { ts: number; outcome: Outcome };
  /** The first push that could wake the channel since its previous session. */
  firstPushTs?: number;
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

interface ActiveRule {
  def: RuleDefinition;
  rule: Rule;
  ctx: RuleContext;
}

export class Analyzer {
  private current: Settings;

  /** What verdicts are judged with now: the run's settings (a replay of several runs takes each run's, see suspend). */
  get settings(): Readonly<Settings> {
    return this.current;
  }

  get pushGraceMs(): number {
    return this.settings.pushGraceMs;
  }

  get sessionTimeoutMs(): number {
    return this.settings.sessionTimeoutMs;
  }

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
  private rules: ActiveRule[];
  /** Counts suspends: timers a rule set before one belong to rule state that is gone, and do nothing. */
  private generation = 0;
  /** Warning ids handed out, so two warnings never share one (bounded: only same-instant collisions matter). */
  private readonly usedIds = new Set<string>();
  private usedIdsTs = -Infinity;

  constructor(opts: AnalyzerOptions = {}) {
    this.current = settingsOf(opts);
    this.obligations = new ObligationBook(
      this.timers,
      {
        emit: (ev) => this.out.push(ev),
        expired: (o) => {
          for (const r of this.rules) {
            const warningId = r.rule.onObligationExpired?.(r.ctx, o);
            if (warningId !== undefined) return { warningId, rule: r.def.id };
          }
          return undefined;
        },
        resolve: (r, by, ts) => this.resolved(r.warningId, r.rule, r.who, by, ts, r.sessionId),
      },
    );
    this.rules = this.activeRules();
  }

  /** Each rule gets a context of its own, so what it raises carries its definition's id and severity. */
  private activeRules(): ActiveRule[] {
    const generation = this.generation;
    return RULES.map((def) => ({
      def,
      rule: def.create(),
      ctx: {
        warn: (who, w) => this.warn(def.id, def.severity, who, w, this.clockTs),
        resolve: (warningId, who, by, sessionId) => this.resolved(warningId, def.id, who, by, this.clockTs, sessionId),
        at: (due, fn) => this.timers.add(due, () => generation === this.generation && fn()),
        setting: (key) => {
          const v = this.settings[key as keyof Settings] as number | undefined;
          if (v === undefined) throw new Error(`rule ${def.id} reads an unknown setting ${key}`);
          return v;
        },
        requestType: (key, uuid) => this.channels.get(key)?.commands.get(uuid),
        platform: (who) => this.platforms.get(platformKey(who)),
        inSession: (key) => this.channels.get(key)?.session !== undefined,
      },
    }));
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
    const target = this.tokens.lookup(push.tokenHash) ?? (push.mappedTo ? this.tokens.forKey(keyOf(push.mappedTo)) : undefined);
    this.out.push({
      type: 'push',
      ts: iso(push.ts),
      ...(target ? target.who : {}),
      tokenHex: `${push.tokenPrefix}…`,
      ...(push.pushMagicHash ? { pushMagicHash: push.pushMagicHash } : {}),
      apnsStatus: push.apnsStatus,
      ...(push.reason ? { reason: push.reason } : {}),
      ...(push.apnsExpiration !== undefined ? { apnsExpiration: push.apnsExpiration } : {}),
      ...(push.apnsPriority !== undefined ? { apnsPriority: push.apnsPriority } : {}),
      ...(push.apnsTopic !== undefined ? { apnsTopic: push.apnsTopic } : {}),
    });
    const delivered = push.apnsStatus >= 200 && push.apnsStatus < 300;
    // A rejected push, or one the device would ignore (wrong PushMagic), wakes nothing and discharges nothing.
    const valid = target !== undefined && !target.checkedOut && !magicMismatch(push.pushMagicHash, target.pushMagicHash);
    const wakes = valid && delivered;
    for (const { rule, ctx } of this.rules) rule.onPush?.(ctx, push, target, wakes);
    if (target && wakes) {
      const ch = this.channel(target.key, target.who);
      if (!ch.session && ch.firstPushTs === undefined) ch.firstPushTs = push.ts;
    }
    // Status 0: APNs never answered (mdmtap could not reach it, an `apns-unreachable` error says so). The server
    // did push; what the obligation judges is the server, so it is discharged, though nothing woke the device.
    if (target && valid && (delivered || push.apnsStatus === 0)) this.obligations.discharge(target.key, 'push', push.ts);
    return this.drain();
  }

  /** Moves time forward: session timeouts and push deadlines due by `now` fire, stamped with their own time. */
  advance(now: number): AnalyzerEvent[] {
    this.runTimers(now);
    return this.drain();
  }

  /**
   * End of a capture (or of a live run): run the clock to `now`, then report every session still open and every
   * obligation still owed as pending.
   */
  finish(now: number): AnalyzerEvent[] {
    this.runTimers(now);
    this.pendSessions(now, false);
    this.out.push(...this.obligations.pending(now));
    return this.drain();
  }

  /**
   * mdmtap stopped watching at `now` and started again later (a capture of several runs, replayed): what a live
   * restart does, done here too so that a replay judges alike. Sessions open at the stop are reported pending and
   * forgotten — not timed out across the gap, not continued by what the device sends after it (that opens a
   * partial session). Obligations stay owed, with their deadlines, and tokens known, as a restart restores them.
   * `next`: the settings the next run was started with, when it was started with others (`--push-grace 2s` after a
   * run with 60 s): what it opens is judged with them, what the run before opened keeps its deadlines.
   */
  suspend(now: number, next?: AnalyzerOptions): AnalyzerEvent[] {
    this.runTimers(now);
    this.pendSessions(now, true);
    if (next) this.current = settingsOf(next);
    // A restart keeps only what the capture restores (tokens, obligations owed, warnings raised on them): the
    // rules' own memory, what was learnt of each channel and device, and the rules' timers start afresh.
    this.generation++;
    this.rules = this.activeRules();
    this.channels.clear();
    this.platforms.clear();
    return this.drain();
  }

  private pendSessions(now: number, forget: boolean): void {
    for (const ch of this.channels.values()) {
      const s = ch.session;
      if (!s) continue;
      this.out.push({
        type: 'session',
        ts: iso(Math.max(now, s.lastTs)),
        event: 'pending',
        sessionId: s.id,
        ...s.who,
        ...(s.lastStatus ? { lastStatus: s.lastStatus } : {}),
        ...(s.notNow.length ? { notNowCommands: [...s.notNow] } : {}),
        exchanges: s.exchanges,
      });
      if (!forget) continue;
      ch.session = undefined;
      if (ch.timeout) ch.timeout.cancelled = true;
      ch.timeout = undefined;
    }
  }

  /** The line that tells a reader of the event stream what the verdicts were judged with. */
  captureEvent(ts: number, event: CaptureEvent['event']): CaptureEvent {
    return { type: 'capture', ts: iso(ts), event, format: 1, ...this.settings } as CaptureEvent;
  }

  restoreToken(tokenHash: string, who: WhoFields, pushMagicHash?: string, checkedOut = false): void {
    const entry = { tokenHash, key: keyOf(who), who, ...(pushMagicHash ? { pushMagicHash } : {}) };
    if (checkedOut) this.tokens.retire(entry);
    else this.tokens.set(entry);
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

  restoreWarning(w: { rule: string; sessionId: string; who: WhoFields; warningId?: string }): void {
    this.obligations.restoreRaised(keyOf(w.who), { ...w, warningId: w.warningId ?? warningIdOf(w.rule, keyOf(w.who), w.sessionId) });
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
    // A DDM 404 is the protocol's own answer (no such declaration, or no DDM on this server), not a refusal.
    const rejected = isRejected(msg.httpStatus) && msg.ddm?.notFound !== true;
    // What a server refused never happened for it: no platform, token or checkout is learnt from it.
    const accepted = msg.httpStatus >= 200 && msg.httpStatus < 300;
    if (accepted && msg.device) this.learnPlatform(who, msg.device);
    if (accepted && msg.messageType === 'TokenUpdate' && msg.tokenHash) {
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
    if (msg.messageType === 'TokenUpdate' && msg.pushMagicHash) ev.pushMagicHash = msg.pushMagicHash;
    if (msg.awaitingConfiguration !== undefined) ev.awaitingConfiguration = msg.awaitingConfiguration;
    this.out.push(ev);
    if (rejected) {
      for (const { rule, ctx } of this.rules) rule.onRejected?.(ctx, msg, who, key);
      return;
    }
    if (msg.ddm && (accepted || msg.ddm.notFound)) this.out.push(ddmEvent(msg, who));
    if (!accepted) return;
    for (const { rule, ctx } of this.rules) rule.onCheckin?.(ctx, msg, who, key);
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
    if (isRejected(msg.httpStatus) && msg.reply.kind === 'http-error') return this.rejectedReport(ch, key, who, msg);
    if (msg.reply.kind === 'failed' && NEVER_REACHED_SERVER.has(msg.reply.error)) return this.unreachedReport(ch, key, who, msg);
    if (msg.device) this.learnPlatform(who, msg.device);

    let s = ch.session;
    if (s && msg.status === 'Idle') {
      // The device started over before the server ended the last session; its return makes a push moot.
      this.endSession(ch, s, 'interrupted', msg.ts, { reason: 'new-session', detail: 'a new session began first' }, false);
      s = undefined;
    }
    // A session whose Idle mdmtap did not see (it began before a start or restart) is partial.
    if (!s) s = this.startSession(ch, key, who, msg.ts, true, msg.status !== 'Idle');

    s.exchanges++;
    s.accepted++;
    s.lastTs = msg.ts;
    s.lastStatus = msg.status;
    if (msg.userConfiguration && who.channel === 'user') s.userConfiguration = true;
    const uuid = msg.commandUUID;
    if (uuid && msg.status === 'NotNow' && !s.notNow.includes(uuid)) s.notNow.push(uuid);
    // A final status counts once the server has taken it (a reply came); after a 5xx it may not have recorded it.
    const taken = msg.reply.kind === 'command' || msg.reply.kind === 'end';
    if (uuid && taken && FINAL_STATUSES.has(msg.status)) s.finals.add(uuid);
    if (msg.reply.kind === 'command') {
      s.sent.set(msg.reply.commandUUID, msg.reply.requestType);
      ch.commands.set(msg.reply.commandUUID, msg.reply.requestType);
    }

    this.out.push(this.commandEvent(ch, who, msg, s.id));
    if (msg.reply.kind === 'command' && msg.reply.requestType === 'DeclarativeManagement') {
      const dm: DdmEvent = { type: 'ddm', ts: iso(msg.ts), ...who, exchangeId: msg.exchangeId, event: 'command', commandUUID: msg.reply.commandUUID };
      if (msg.reply.declarationsToken !== undefined) dm.declarationsToken = msg.reply.declarationsToken;
      this.out.push(dm);
    }

    for (const { rule, ctx } of this.rules) rule.onReport?.(ctx, s, msg);
    if (msg.malformedResponse) this.malformed(msg, msg.identity);

    switch (msg.reply.kind) {
      case 'command':
        this.armTimeout(ch, s);
        break;
      case 'end':
        this.endSession(ch, s, endedOutcome(s), msg.ts, undefined, true);
        break;
      case 'http-error':
        this.endSession(ch, s, 'interrupted', msg.ts, { reason: 'http-error', detail: `HTTP ${msg.reply.httpStatus} from the server` }, true);
        break;
      case 'failed':
        this.endSession(ch, s, 'interrupted', msg.ts, { reason: 'failed', detail: `exchange failed: ${msg.reply.error}` }, true);
        break;
      case 'invalid':
        this.endSession(ch, s, 'interrupted', msg.ts, { reason: 'invalid-reply', detail: `the server's reply was not a command: ${msg.reply.reason}` }, true);
        break;
    }
  }

  /**
   * A report the server refused (HTTP 4xx: unknown or expired identity, bad request). Nothing ran on the server,
   * so it changes no command's state, opens no obligation and discharges nothing (a forged report naming someone's
   * UDID must not silence what is owed to that device). The session it belongs to — or the one it tried to
   * start — ends there as interrupted/rejected, and no push can help.
   */
  private rejectedReport(ch: ChannelState, key: string, who: WhoFields, msg: CommandMessage): void {
    const s = ch.session ?? this.startSession(ch, key, who, msg.ts, false);
    s.exchanges++;
    s.lastTs = msg.ts;
    this.out.push(this.commandEvent(ch, who, msg, s.id));
    for (const { rule, ctx } of this.rules) rule.onRejected?.(ctx, msg, who, key);
    this.endSession(ch, s, 'interrupted', msg.ts, { reason: 'rejected', detail: `the server refused a ${msg.status} report with HTTP ${msg.httpStatus}` }, false);
  }

  /**
   * A report that never reached the server (no connection to it, or no TLS handshake: the proxy reports those
   * kinds only before a byte was sent). Nothing changes on the server for it: the session is judged on what the
   * server did see — ended as interrupted, a push owed as after any interruption if it saw reports of this session
   * (its last status is the one the server saw), nothing owed for a session it never saw (a failed Idle is only a
   * record, as a refused one is).
   */
  private unreachedReport(ch: ChannelState, key: string, who: WhoFields, msg: CommandMessage): void {
    let s = ch.session;
    if (s && msg.status === 'Idle') {
      // The device started over, as in command(); but the server never saw it return, so the push it owes stands.
      this.endSession(ch, s, 'interrupted', msg.ts, { reason: 'new-session', detail: 'a new session began first, but its Idle never reached the server' }, true);
      s = undefined;
    }
    s ??= this.startSession(ch, key, who, msg.ts, false);
    s.exchanges++;
    s.lastTs = msg.ts;
    this.out.push(this.commandEvent(ch, who, msg, s.id));
    const error = msg.reply.kind === 'failed' ? msg.reply.error : 'failed';
    this.endSession(ch, s, 'interrupted', msg.ts, { reason: 'failed', detail: `exchange failed: ${error} (the report never reached the server)` }, s.accepted > 0);
  }

  /** The `exchange` event of a command-channel report and the server's reply. */
  private commandEvent(ch: ChannelState, who: WhoFields, msg: CommandMessage, sessionId: string | undefined): ExchangeEvent {
    const ev: ExchangeEvent = {
      type: 'exchange',
      ts: iso(msg.ts),
      ...who,
      exchangeId: msg.exchangeId,
      endpoint: 'command',
      status: msg.status,
      httpStatus: msg.httpStatus,
      ...(sessionId ? { sessionId } : {}),
      reply: msg.reply.kind,
    };
    const uuid = msg.commandUUID;
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
    return ev;
  }

  private malformed(msg: MalformedMessage | CommandMessage, identity: Identity | undefined): void {
    const who: WhoFields = identity ? whoOf(identity, msg.host) : { udid: 'unknown', channel: 'device', host: msg.host };
    for (const { rule, ctx } of this.rules) rule.onMalformed?.(ctx, msg, who);
  }

  // --- sessions ---------------------------------------------------------------------------------------------

  /**
   * `accepted`: the server took the report that opens the session. One it refused proves nothing about the
   * device (it may be forged): it discharges, resolves and measures nothing.
   */
  private startSession(ch: ChannelState, key: string, who: WhoFields, ts: number, accepted = true, partial = false): Session {
    const s = newSession(key, who, ts);
    if (partial) s.partial = true;
    ch.session = s;
    if (!accepted) {
      this.out.push({ type: 'session', ts: iso(ts), event: 'start', sessionId: s.id, ...who });
      return s;
    }
    this.obligations.discharge(key, 'device-returned', ts);
    const since: { sinceNotNowMs?: number; sincePushMs?: number } = {};
    if (ch.lastEnd?.outcome === 'ended-on-notnow') since.sinceNotNowMs = ts - ch.lastEnd.ts;
    if (ch.firstPushTs !== undefined) since.sincePushMs = ts - ch.firstPushTs;
    ch.firstPushTs = undefined;
    this.out.push({ type: 'session', ts: iso(ts), event: 'start', sessionId: s.id, ...who, ...since });
    for (const { rule, ctx } of this.rules) rule.onSessionStart?.(ctx, s);
    return s;
  }

  private endSession(
    ch: ChannelState,
    s: Session,
    outcome: Outcome,
    ts: number,
    why: { reason: InterruptReason; detail: string } | undefined,
    mayOwe: boolean,
  ): void {
    ch.session = undefined;
    if (ch.timeout) ch.timeout.cancelled = true;
    ch.timeout = undefined;
    // A session the server never took a report of is only a record: rules and the channel's history skip it.
    const refused = s.exchanges > 0 && s.accepted === 0;
    if (!refused) ch.lastEnd = { ts, outcome };
    const outstanding = refusedOutstanding(s);
    this.out.push({
      type: 'session',
      ts: iso(ts),
      event: 'end',
      sessionId: s.id,
      ...s.who,
      outcome,
      ...(s.lastStatus ? { lastStatus: s.lastStatus } : {}),
      ...(s.notNow.length ? { notNowCommands: [...s.notNow] } : {}),
      ...(outcome === 'stranded' ? { outstanding } : {}),
      ...(why ?? {}),
      exchanges: s.exchanges,
      ...(s.partial ? { partial: true } : {}),
      ...(s.userConfiguration ? { userConfiguration: true } : {}),
    });
    const endedByServer = outcome !== 'interrupted';
    if (!refused) for (const { rule, ctx } of this.rules) rule.onSessionEnd?.(ctx, s, outcome, endedByServer);
    if (mayOwe && owesPush(outcome, s)) {
      this.obligations.add({
        sessionId: s.id,
        key: s.key,
        who: s.who,
        openedAt: ts,
        deadline: ts + this.settings.pushGraceMs,
        outcome,
        commandUUIDs: outcome === 'stranded' ? outstanding : [],
        what: outcome === 'stranded' ? commandList(outstanding, (u) => ch.commands.get(u)) : (why?.detail ?? 'interrupted'),
      });
    }
  }

  private armTimeout(ch: ChannelState, s: Session): void {
    if (ch.timeout) ch.timeout.cancelled = true;
    const due = s.lastTs + this.settings.sessionTimeoutMs;
    ch.timeout = this.timers.add(due, () => {
      if (ch.session !== s) return;
      this.endSession(ch, s, 'interrupted', due, { reason: 'timeout', detail: `no report for ${Math.round(this.settings.sessionTimeoutMs / 1000)}s (timeout)` }, true);
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
    if (!ch) this.channels.set(key, (ch = { who, commands: new RecentMap(MAX_KNOWN_COMMANDS) }));
    return ch;
  }

  private learnPlatform(who: WhoFields, facts: Parameters<typeof platformOf>[0]): void {
    const p = platformOf(facts);
    if (p) this.platforms.set(platformKey(who), p);
  }

  private warn(rule: string, severity: Severity, who: WhoFields, w: RaisedWarning, ts: number): string {
    const warningId = this.uniqueId(warningIdOf(rule, keyOf(who), w.sessionId ?? '', ts, (w.commandUUIDs ?? []).join(',')), ts);
    this.out.push({
      type: 'warning',
      ts: iso(ts),
      warningId,
      rule,
      severity,
      ...(w.sessionId ? { sessionId: w.sessionId } : {}),
      ...who,
      ...(w.commandUUIDs ? { commandUUIDs: w.commandUUIDs } : {}),
      message: w.message,
      ...(w.detail ? { detail: w.detail } : {}),
    });
    return warningId;
  }

  private resolved(warningId: string, rule: string, who: WhoFields, by: DischargeBy, ts: number, sessionId?: string): void {
    this.out.push({ type: 'resolved', ts: iso(ts), rule, warningId, ...(sessionId ? { sessionId } : {}), ...who, by });
  }

  /** Ids only collide for warnings raised at the same instant with the same facts: number the later ones. */
  private uniqueId(id: string, ts: number): string {
    if (ts !== this.usedIdsTs) {
      this.usedIds.clear();
      this.usedIdsTs = ts;
    }
    let out = id;
    for (let n = 2; this.usedIds.has(out); n++) out = `${id}-${n}`;
    this.usedIds.add(out);
    return out;
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
  if (id.userShortName && id.channel === 'user') who.userShortName = id.userShortName;
  who.host = host;
  return who;
}

/** 4xx: the server refused the request itself (identity, format); not a NotNow matter and not an outage. */
function isRejected(httpStatus: number): boolean {
  return httpStatus >= 400 && httpStatus < 500;
}

export function keyOf(who: WhoFields): string {
  return `${who.host ?? ''}|${who.udid}|${who.channel}|${who.userId ?? ''}`;
}

/** Deterministic, so a replay names warnings exactly as the live run did. */
export function warningIdOf(...parts: Array<string | number>): string {
  return 'w-' + sha256Hex(parts.join('|')).slice(0, 12);
}

/** Platform belongs to the device, whichever channel told us. */
function platformKey(who: WhoFields): string {
  return `${who.host ?? ''}|${who.udid}`;
}

export type { DischargeBy };

/** The DDM facts of a check-in as an event (secrets never reach it: declarations are named, not included). */
function ddmEvent(msg: CheckinMessage, who: WhoFields): DdmEvent {
  const d = msg.ddm!;
  const ev: DdmEvent = { type: 'ddm', ts: iso(msg.ts), ...who, exchangeId: msg.exchangeId, event: d.kind, endpoint: d.endpoint };
  if (d.declarationsToken !== undefined) ev.declarationsToken = d.declarationsToken;
  if (d.items) ev.items = d.items;
  if (d.declaration) ev.declaration = d.declaration;
  if (d.notFound) ev.notFound = true;
  if (d.status) {
    ev.full = d.status.full;
    ev.clientCapabilities = d.status.clientCapabilities;
    ev.declarations = d.status.declarations;
  }
  if (d.malformed) ev.malformed = d.malformed;
  return ev;
}

/**
 * Only settings (numbers named …Ms), over the defaults: callers pass wider option objects (a pipeline's clock, say),
 * and the settings are written into the capture's first line and sent to the store's thread.
 */
function settingsOf(opts: AnalyzerOptions): Settings {
  const settings = defaultSettings();
  for (const [k, v] of Object.entries(opts)) if (typeof v === 'number' && k.endsWith('Ms')) settings[k as keyof Settings] = v;
  return settings;
}
