/**
 * The fleet as the Analyzer's events describe it: per device channel, where its session stands, what it last
 * reported, the push it is owed and by when, its open warnings and its NotNow count. A pure reducer over
 * AnalyzerEvents, so the live dashboard and a capture opened later (whose events are all that is stored) see
 * one model; the dashboard only indexes, sorts and throttles it. What a rule means for a channel is read from
 * the registry (`judgesObligations`), never from its id, so a new rule shows up without touching the dashboard.
 *
 * Bounded: at most MAX_CHANNELS channels (the least recently seen go first), and per channel at most
 * MAX_OPEN_WARNINGS open warnings tracked (past that a warning counts as raised, not as open).
 */
import type { AnalyzerEvent, DdmEvent, Outcome, Severity, WhoFields } from '../model/events.js';
import type { Channel, DeclarationStatus } from '../model/message.js';
import { ruleInfo } from './registry.js';

/**
 * What a channel is waiting for: `in session` (talking now), `will poll` (its last session ended on NotNow: it
 * comes back by itself), `push owed` (the server must push by the deadline), `stranded` (the deadline passed with
 * no push: nothing will bring it back), `idle`.
 */
export type ChannelStateName = 'idle' | 'in session' | 'will poll' | 'push owed' | 'stranded';

/** A channel's Declarative Device Management, as its DDM check-ins and the DeclarativeManagement command tell it. */
export interface DdmState {
  /** A status report carried the device's client capabilities: DDM is on. */
  enabled: boolean;
  /** The DeclarationsToken the server last offered (tokens or declaration-items response, or the command). */
  offeredToken?: string;
  /** The DeclarationsToken of the declaration items the device last fetched: where it has synced to. */
  syncedToken?: string;
  /** When the device last fetched the declaration items, sent a status report, a full one (ms). */
  lastSync?: number;
  lastReport?: number;
  lastFullReport?: number;
  /** Each declaration's latest status (a full report replaces them, a partial one updates those it names). */
  declarations: DeclarationStatus[];
}

export interface ChannelState {
  /** Stable key: host, UDID (or EnrollmentID), channel, user. */
  key: string;
  udid: string;
  channel: Channel;
  userId?: string;
  userShortName?: string;
  host?: string;
  platform?: string;
  state: ChannelStateName;
  /** The open session, while one is. */
  sessionId?: string;
  /** The last Status the channel reported on the command channel. */
  lastStatus?: string;
  /** How its last session ended. */
  lastOutcome?: Outcome;
  /** When the push owed is due (state `push owed`, ms). */
  deadline?: number;
  sessions: number;
  exchanges: number;
  notNow: number;
  /** Warnings and infos raised on the channel, and those not yet resolved. */
  raised: number;
  openWarnings: number;
  openInfos: number;
  lastSeen: number;
  /** Once the channel has done any DDM. */
  ddm?: DdmState;
}

export interface FleetCounters {
  /** Distinct devices (UDID or EnrollmentID, per server). */
  devices: number;
  /** Device and user channels: a Mac with one user is two. */
  channels: number;
  sessions: number;
  exchanges: number;
  notNow: number;
  pushOwed: number;
  stranded: number;
  /** Unresolved, by severity. */
  openWarnings: number;
  openInfos: number;
  /** Raised since the start, resolved or not. */
  raised: number;
}

interface Internal extends ChannelState {
  open: Map<string, Severity>;
  /** Obligation-judging warnings not yet resolved: the channel is stranded while any is. */
  overdue: Set<string>;
  obligationSession?: string;
}

const MAX_CHANNELS = 200_000;
const MAX_OPEN_WARNINGS = 100;
/** Declarations whose status a channel keeps (a real device has dozens). */
const MAX_DECLARATIONS = 500;

export function channelKey(who: { udid: string; channel: string; userId?: string; host?: string }): string {
  return `${who.host ?? ''}|${who.udid}|${who.channel}|${who.userId ?? ''}`;
}

export class Fleet {
  private readonly channels = new Map<string, Internal>();
  private readonly devices = new Map<string, number>();
  private readonly totals = { sessions: 0, exchanges: 0, notNow: 0, raised: 0, openWarnings: 0, openInfos: 0 };
  private pushOwed = 0;
  private stranded = 0;

  /** Applies one event; returns the channel it was about (undefined for events about none). */
  apply(ev: AnalyzerEvent): ChannelState | undefined {
    switch (ev.type) {
      case 'exchange': {
        const c = this.channel(ev, ev.ts);
        c.exchanges++;
        this.totals.exchanges++;
        if (ev.platform) c.platform = ev.platform;
        if (ev.endpoint === 'command' && ev.status) {
          c.lastStatus = ev.status;
          if (ev.status === 'NotNow') {
            c.notNow++;
            this.totals.notNow++;
          }
        }
        return this.settle(c);
      }
      case 'session': {
        const c = this.channel(ev, ev.ts);
        if (ev.event === 'start') {
          c.sessions++;
          this.totals.sessions++;
          c.sessionId = ev.sessionId;
        } else if (ev.event === 'end') {
          if (c.sessionId === ev.sessionId) delete c.sessionId;
          if (ev.outcome) c.lastOutcome = ev.outcome;
        }
        return this.settle(c);
      }
      case 'obligation': {
        const c = this.channel(ev, ev.ts);
        if (ev.event === 'open' || ev.event === 'pending') {
          c.obligationSession = ev.sessionId;
          c.deadline = Date.parse(ev.deadline);
        } else if (c.obligationSession === ev.sessionId) {
          delete c.obligationSession;
          delete c.deadline;
        }
        return this.settle(c);
      }
      case 'warning': {
        const c = this.channel(ev, ev.ts);
        c.raised++;
        this.totals.raised++;
        if (c.open.size < MAX_OPEN_WARNINGS) {
          c.open.set(ev.warningId, ev.severity);
          this.countOpen(c, ev.severity, 1);
        }
        if (ruleInfo(ev.rule)?.judgesObligations) {
          // The deadline passed with no push: the obligation has become this warning.
          c.overdue.add(ev.warningId);
          if (!ev.sessionId || c.obligationSession === ev.sessionId) {
            delete c.obligationSession;
            delete c.deadline;
          }
        }
        return this.settle(c);
      }
      case 'resolved': {
        const c = this.channel(ev, ev.ts);
        const severity = c.open.get(ev.warningId);
        if (severity) {
          c.open.delete(ev.warningId);
          this.countOpen(c, severity, -1);
        }
        c.overdue.delete(ev.warningId);
        return this.settle(c);
      }
      case 'push':
        return ev.udid && ev.channel ? this.settle(this.channel({ ...ev, udid: ev.udid, channel: ev.channel }, ev.ts)) : undefined;
      case 'ddm': {
        const c = this.channel(ev, ev.ts);
        // A new object each time: snapshots handed to the dashboard keep what they were given.
        c.ddm = nextDdm(c.ddm, ev);
        return c;
      }
      default:
        return undefined;
    }
  }

  get(key: string): ChannelState | undefined {
    return this.channels.get(key);
  }

  /** Every channel, least recently seen first. */
  all(): IterableIterator<ChannelState> {
    return this.channels.values();
  }

  get size(): number {
    return this.channels.size;
  }

  counters(): FleetCounters {
    return { devices: this.devices.size, channels: this.channels.size, ...this.totals, pushOwed: this.pushOwed, stranded: this.stranded };
  }

  /** A copy of a channel's state without the reducer's bookkeeping. */
  static view(c: ChannelState): ChannelState {
    const { open: _o, overdue: _d, obligationSession: _s, ...rest } = c as Internal;
    return rest;
  }

  private countOpen(c: Internal, severity: Severity, by: 1 | -1): void {
    if (severity === 'warning') {
      c.openWarnings += by;
      this.totals.openWarnings += by;
    } else {
      c.openInfos += by;
      this.totals.openInfos += by;
    }
  }

  /** Derives the state from the facts, keeping the push-owed and stranded counts in step. */
  private settle(c: Internal): ChannelState {
    const before = c.state;
    c.state = c.sessionId ? 'in session' : c.overdue.size ? 'stranded' : c.obligationSession ? 'push owed' : c.lastOutcome === 'ended-on-notnow' ? 'will poll' : 'idle';
    if (before !== c.state) {
      if (before === 'push owed') this.pushOwed--;
      if (before === 'stranded') this.stranded--;
      if (c.state === 'push owed') this.pushOwed++;
      if (c.state === 'stranded') this.stranded++;
    }
    return c;
  }

  private channel(who: WhoFields, ts: string): Internal {
    const key = channelKey(who);
    const at = Date.parse(ts);
    let c = this.channels.get(key);
    if (c) {
      // Most recently seen last: the first entry is the one to forget when the fleet is over its bound.
      this.channels.delete(key);
    } else {
      c = {
        key, udid: who.udid, channel: who.channel, state: 'idle', sessions: 0, exchanges: 0, notNow: 0, raised: 0, openWarnings: 0, openInfos: 0, lastSeen: at,
        open: new Map(), overdue: new Set(),
        ...(who.userId ? { userId: who.userId } : {}),
        ...(who.host ? { host: who.host } : {}),
      };
      const device = `${who.host ?? ''}|${who.udid}`;
      this.devices.set(device, (this.devices.get(device) ?? 0) + 1);
      if (this.channels.size >= MAX_CHANNELS) this.forgetOldest();
    }
    this.channels.set(key, c);
    if (who.userShortName) c.userShortName = who.userShortName;
    if (at > c.lastSeen) c.lastSeen = at;
    return c;
  }

  private forgetOldest(): void {
    const [key, c] = this.channels.entries().next().value as [string, Internal];
    this.channels.delete(key);
    const device = `${c.host ?? ''}|${c.udid}`;
    const n = (this.devices.get(device) ?? 1) - 1;
    if (n) this.devices.set(device, n);
    else this.devices.delete(device);
    if (c.state === 'push owed') this.pushOwed--;
    if (c.state === 'stranded') this.stranded--;
    this.totals.openWarnings -= c.openWarnings;
    this.totals.openInfos -= c.openInfos;
  }
}

/** A channel's DDM after one more `ddm` event (from nothing, on its first). */
export function nextDdm(prev: DdmState | undefined, ev: DdmEvent): DdmState {
  const at = Date.parse(ev.ts);
  const before = prev ?? { enabled: false, declarations: [] };
  const d: DdmState = { ...before };
  if (ev.declarationsToken !== undefined && (ev.event === 'tokens' || ev.event === 'declaration-items' || ev.event === 'command')) d.offeredToken = ev.declarationsToken;
  if (ev.event === 'declaration-items' && !ev.notFound) {
    d.lastSync = at;
    if (ev.declarationsToken !== undefined) d.syncedToken = ev.declarationsToken;
  }
  if (ev.event === 'status' && ev.declarations) {
    d.lastReport = at;
    if (ev.clientCapabilities) d.enabled = true;
    if (ev.full) {
      d.lastFullReport = at;
      d.declarations = ev.declarations.slice(0, MAX_DECLARATIONS);
    } else {
      const byId = new Map(before.declarations.map((x) => [`${x.kind}|${x.identifier}`, x]));
      for (const x of ev.declarations) byId.set(`${x.kind}|${x.identifier}`, x);
      d.declarations = [...byId.values()].slice(-MAX_DECLARATIONS);
    }
  }
  return d;
}
