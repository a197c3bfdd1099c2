/**
 * Push obligations: a session that leaves the device with no reason to poll owes a push within the grace period.
 * This is where `notnow-no-push` and `interrupted-no-push` are raised (at the deadline) and resolved (when a
 * push or the device's return finally comes).
 */
import type { DischargeBy, ObligationEvent, Outcome, RuleId, WhoFields } from '../model/events.js';
import { iso } from '../util/iso.js';
import type { Timer, TimerQueue } from './timers.js';
import type { RaisedWarning } from './rules/rule.js';
import { explain } from './messages.js';

export interface Obligation {
  sessionId: string;
  key: string;
  who: WhoFields;
  openedAt: number;
  deadline: number;
  outcome: Outcome;
  /** Refused commands still without a final status (stranded sessions). */
  commandUUIDs: string[];
  /** Human description of the stranded commands or the interruption. */
  what: string;
  timer?: Timer;
}

interface Raised {
  warningId: string;
  sessionId: string;
  rule: RuleId;
  who: WhoFields;
}

export interface ObligationHooks {
  emit(ev: ObligationEvent): void;
  /** Raises a warning at `ts`; returns its id. */
  raise(rule: RuleId, who: WhoFields, w: RaisedWarning, ts: number): string;
  resolve(r: Raised, by: DischargeBy, ts: number): void;
}

export class ObligationBook {
  private readonly open = new Map<string, Obligation>();
  private readonly raised = new Map<string, Raised[]>();

  constructor(
    private readonly timers: TimerQueue,
    private readonly hooks: ObligationHooks,
    private readonly graceMs: number,
  ) {}

  /** Opens an obligation (replacing none: a channel owes at most one push at a time). */
  add(ob: Omit<Obligation, 'timer'>, announce = true): void {
    const o: Obligation = { ...ob };
    this.open.set(o.key, o);
    o.timer = this.timers.add(o.deadline, () => this.expire(o));
    if (announce) this.hooks.emit(this.obligationEvent(o, o.openedAt, 'open'));
  }

  /** A push or the device's return: discharge what is open and resolve what was already raised. */
  discharge(key: string, by: DischargeBy, ts: number): void {
    const o = this.open.get(key);
    if (o) {
      o.timer!.cancelled = true;
      this.open.delete(key);
      this.hooks.emit({ ...this.obligationEvent(o, ts, 'discharged'), by });
    }
    const r = this.raised.get(key);
    if (r) {
      this.raised.delete(key);
      for (const w of r) this.hooks.resolve(w, by, ts);
    }
  }

  /** Re-arm a warning raised before a restart, so a later push or return still resolves it. */
  restoreRaised(key: string, w: Raised): void {
    const list = this.raised.get(key) ?? [];
    list.push(w);
    this.raised.set(key, list);
  }

  /** Everything still open, for `finish()`: reported as pending. */
  pending(ts: number): ObligationEvent[] {
    return [...this.open.values()].map((o) => this.obligationEvent(o, ts, 'pending'));
  }

  openFor(key: string): Obligation | undefined {
    return this.open.get(key);
  }

  get openCount(): number {
    return this.open.size;
  }

  private expire(o: Obligation): void {
    if (this.open.get(o.key) !== o) return;
    this.open.delete(o.key);
    const rule: RuleId = o.outcome === 'stranded' ? 'notnow-no-push' : 'interrupted-no-push';
    const message = o.outcome === 'stranded' ? explain.notNowNoPush(o.what, this.graceMs) : explain.interruptedNoPush(o.what, this.graceMs);
    const warningId = this.hooks.raise(
      rule,
      o.who,
      {
        sessionId: o.sessionId,
        ...(o.commandUUIDs.length ? { commandUUIDs: o.commandUUIDs } : {}),
        message,
        detail: { deadline: iso(o.deadline), sessionEnded: iso(o.openedAt), outcome: o.outcome },
      },
      o.deadline,
    );
    this.restoreRaised(o.key, { warningId, sessionId: o.sessionId, rule, who: o.who });
  }

  private obligationEvent(o: Obligation, ts: number, event: ObligationEvent['event']): ObligationEvent {
    return { type: 'obligation', ts: iso(ts), event, sessionId: o.sessionId, ...o.who, deadline: iso(o.deadline), outcome: o.outcome };
  }
}
