/**
 * The person-readable `mdmtap analyze` report, built from the event stream alone, so it says exactly what
 * `--json` would have printed, grouped per device channel. Built as the events stream past: memory grows with the
 * number of device channels, not with the capture (each channel keeps its last lines, durations are sampled).
 */
import type { AnalyzerEvent, ObligationEvent, SessionEvent } from '../model/events.js';
import { formatDuration } from '../util/duration.js';
import { commandInfo, supportSummary, unsupportedOn } from '../mdm/catalogue.js';
import type { Platform } from '../model/message.js';
import { RecentMap } from '../util/recent-map.js';
import { nextDdm, type DdmState } from '../analysis/fleet.js';
import { describeDdm, describeDdmState, describeDeclaration } from '../analysis/ddm-text.js';

export interface ReportMeta {
  files: Array<{ name: string; format: string; exchanges: number }>;
  pushGraceMs: number;
  endTs?: number;
  pushesObserved: boolean;
  /** Exchanges dropped because another input held them too; items later than the reorder window. */
  duplicates?: number;
  late?: number;
}

export interface ReportInput extends ReportMeta {
  events: AnalyzerEvent[];
}

/**
 * Lines kept per channel, the most recent (the JSON output has every event): 60, fewer as the fleet grows so
 * that all channels together keep at most LINES_TOTAL (a line is a few hundred bytes).
 */
const LINES_PER_CHANNEL = 60;
const LINES_MIN = 5;
const LINES_TOTAL = 40_000;
/** Request types remembered for naming commands (most recent). */
const KNOWN_COMMANDS = 20_000;
/** Distinct request types tallied; a server inventing more is lumped together past this. */
const MAX_REQUEST_TYPES = 200;
const OTHER_COMMANDS = '(other request types)';

/** Per request type: how often the server sent it, what devices answered, and where Apple says it cannot run. */
interface CommandTally {
  sent: number;
  statuses: Map<string, number>;
  unsupported: Map<string, number>;
}

interface ChannelReport {
  label: string;
  platform?: string;
  host?: string;
  sessions: number;
  lines: Array<{ ts: string; text: string }>;
  omitted: number;
  outcomes: Record<string, number>;
  ddm?: DdmState;
}

const OUTCOME_LABEL: Record<string, string> = {
  clean: 'clean',
  'ended-on-notnow': 'ended on NotNow',
  recovered: 'recovered',
  stranded: 'stranded',
  interrupted: 'interrupted',
};

/** Up to `size` values, each kept with equal chance (reservoir sampling), and the exact count and maximum. */
class Sample {
  readonly values: number[] = [];
  count = 0;
  max = -Infinity;
  private seed = 0x2545f491;

  constructor(private readonly size = 20_000) {}

  add(v: number): void {
    this.count++;
    if (v > this.max) this.max = v;
    if (this.values.length < this.size) this.values.push(v);
    else {
      // A small deterministic generator, so the same capture gives the same report.
      this.seed = (this.seed * 1103515245 + 12345) >>> 0;
      const j = this.seed % this.count;
      if (j < this.size) this.values[j] = v;
    }
  }
}

export class ReportBuilder {
  private readonly requestTypes = new RecentMap<string, string>(KNOWN_COMMANDS);
  private readonly commands = new Map<string, CommandTally>();
  private readonly channels = new Map<string, ChannelReport>();
  private readonly byRule = new Map<string, number>();
  private warnCount = 0;
  private infoCount = 0;
  private readonly pending: ObligationEvent[] = [];
  private readonly openAtEnd: SessionEvent[] = [];
  private readonly returns = new Sample();
  private readonly selfReturns = new Sample();
  private readonly wakes = new Sample();
  private exchanges = 0;
  /** The push grace each run was judged with, where it changed. */
  private readonly graces: Array<{ ts: string; ms: number }> = [];
  private pushes = 0;
  private errors = 0;

  add(ev: AnalyzerEvent): void {
    switch (ev.type) {
      case 'capture': {
        // A capture of several runs is judged run by run with each run's settings: the header says when they changed.
        const last = this.graces.at(-1);
        if (ev.event === 'start' && ev.pushGraceMs !== last?.ms) this.graces.push({ ts: ev.ts, ms: ev.pushGraceMs });
        break;
      }
      case 'exchange': {
        this.exchanges++;
        const c = this.chan(ev);
        if (ev.platform) c.platform = ev.platform;
        if (ev.replyCommandUUID && ev.requestType) {
          this.requestTypes.set(ev.replyCommandUUID, ev.requestType);
        }
        if (ev.requestType) {
          const t = this.tally(ev.requestType);
          t.sent++;
          const why = unsupportedOn(ev.requestType, ev.platform as Platform | undefined, ev.channel);
          if (why) t.unsupported.set(why, (t.unsupported.get(why) ?? 0) + 1);
        }
        if (ev.answersRequestType && ev.status) {
          const t = this.tally(ev.answersRequestType);
          // Status is the device's word: a few distinct values are expected, the rest is lumped together.
          const st = t.statuses.has(ev.status) || t.statuses.size < 8 ? ev.status : 'other';
          t.statuses.set(st, (t.statuses.get(st) ?? 0) + 1);
        }
        break;
      }
      case 'session': {
        if (ev.event === 'start') {
          if (ev.sinceNotNowMs !== undefined) {
            this.returns.add(ev.sinceNotNowMs);
            if (ev.sincePushMs === undefined) this.selfReturns.add(ev.sinceNotNowMs);
          }
          if (ev.sincePushMs !== undefined) this.wakes.add(ev.sincePushMs);
          break;
        }
        if (ev.event === 'pending') {
          this.openAtEnd.push(ev);
          this.line(this.chan(ev), ev.ts, `session ${ev.sessionId} still open at the end of the capture${ev.lastStatus ? ` · last status ${ev.lastStatus}` : ''}`);
          break;
        }
        const c = this.chan(ev);
        c.sessions++;
        const outcome = ev.outcome ?? 'clean';
        c.outcomes[outcome] = (c.outcomes[outcome] ?? 0) + 1;
        if (outcome !== 'clean' || ev.userConfiguration) {
          const bits = [`session ${OUTCOME_LABEL[outcome] ?? outcome}`];
          if (ev.lastStatus) bits.push(`last status ${ev.lastStatus}`);
          if (ev.notNowCommands?.length) bits.push(`NotNow: ${this.commandsOf(ev.notNowCommands)}`);
          if (ev.outstanding?.length) bits.push(`still outstanding: ${this.commandsOf(ev.outstanding)}`);
          if (ev.reason) bits.push(ev.detail ? `${ev.reason}: ${ev.detail}` : ev.reason);
          if (ev.userConfiguration) bits.push('Setup Assistant (UserConfiguration): NotNow expected');
          this.line(c, ev.ts, bits.join(' · '));
        }
        break;
      }
      case 'warning': {
        if (ev.severity === 'warning') this.warnCount++;
        else this.infoCount++;
        this.byRule.set(ev.rule, (this.byRule.get(ev.rule) ?? 0) + 1);
        const tag = ev.severity === 'warning' ? 'WARNING' : 'info   ';
        this.line(this.chan(ev), ev.ts, `${tag} ${ev.rule}: ${ev.message}`);
        break;
      }
      case 'resolved': {
        this.line(this.chan(ev), ev.ts, `resolved ${ev.rule}${ev.sessionId ? ` (session ${ev.sessionId})` : ''} by ${byLabel(ev.by)}`);
        break;
      }
      case 'obligation': {
        const c = this.chan(ev);
        if (ev.event === 'open') {
          this.line(c, ev.ts, `push owed for session ${ev.sessionId} by ${clock(ev.deadline)}`);
        } else if (ev.event === 'discharged') {
          this.line(c, ev.ts, `push obligation met by ${byLabel(ev.by)}`);
        } else {
          this.pending.push(ev);
          this.line(c, ev.ts, `pending: push still owed at the end of the capture (due ${clock(ev.deadline)})`);
        }
        break;
      }
      case 'push':
        this.pushes++;
        break;
      case 'ddm': {
        const c = this.chan(ev);
        c.ddm = nextDdm(c.ddm, ev);
        this.line(c, ev.ts, describeDdm(ev));
        break;
      }
      case 'error':
        this.errors++;
        break;
    }
  }

  private graceText(given: number): string {
    if (this.graces.length < 2) return formatDuration(given);
    const [first, ...later] = this.graces;
    return `${formatDuration(first.ms)} (${later.map((g) => `${formatDuration(g.ms)} from ${g.ts}`).join(', ')}: runs started with another)`;
  }

  render(input: ReportMeta): string {
    const out: string[] = [];
    const files = input.files.map((f) => `${f.name} (${f.format}, ${f.exchanges} exchanges)`).join(', ');
    out.push(`mdmtap analyze: ${files}`);
    out.push(
      `push grace ${this.graceText(input.pushGraceMs)}; deadlines judged at ${
        input.endTs !== undefined ? new Date(input.endTs).toISOString() : 'the end of the capture'
      } (the capture's last timestamp)`,
    );
    if (input.duplicates) out.push(`${input.duplicates} exchange${input.duplicates === 1 ? '' : 's'} and pushes held by more than one input were counted once.`);
    if (input.late) out.push(`${input.late} item${input.late === 1 ? '' : 's'} came later than the 10-minute reorder window and were judged when they came.`);
    out.push('');
    const sorted = [...this.channels.values()].sort((a, b) => a.label.localeCompare(b.label));
    for (const c of sorted) {
      const head = [c.label];
      if (c.platform) head.push(c.platform);
      if (c.host) head.push(`server ${c.host}`);
      out.push(head.join('  ·  '));
      const parts = Object.entries(c.outcomes).map(([o, n]) => `${n} ${OUTCOME_LABEL[o] ?? o}`);
      out.push(`  ${c.sessions} session${c.sessions === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`);
      if (c.omitted) out.push(`  … ${c.omitted} earlier line${c.omitted === 1 ? '' : 's'} left out (mdmtap analyze --json has every event)`);
      for (const l of c.lines) out.push(`  ${clock(l.ts)}  ${l.text}`);
      if (c.ddm) {
        out.push(`  ${describeDdmState(c.ddm, (ms) => new Date(ms).toISOString())}`);
        for (const d of c.ddm.declarations) out.push(`    ${describeDeclaration(d)}`);
      }
      out.push('');
    }
    if (sorted.length === 0) out.push('No MDM traffic found in the capture.', '');

    if (this.commands.size) {
      out.push('Commands (sent, and what devices answered):');
      for (const [rt, t] of [...this.commands].sort((a, b) => b[1].sent - a[1].sent || a[0].localeCompare(b[0]))) {
        const answers = [...t.statuses].sort((a, b) => b[1] - a[1]).map(([st, n]) => `${n} ${st}`);
        const info = commandInfo(rt);
        out.push(`  ${rt} ×${t.sent}${answers.length ? `: ${answers.join(', ')}` : ''}${info ? '' : rt === OTHER_COMMANDS ? '' : " (not in mdmtap's copy of Apple's schemas)"}`);
        for (const [why, n] of t.unsupported) out.push(`    ! ${why} (sent there ${n} time${n === 1 ? '' : 's'}${info ? `; Apple: ${supportSummary(info)}` : ''})`);
      }
      out.push('');
    }

    const sessionCount = sorted.reduce((n, c) => n + c.sessions, 0);
    const totals: Record<string, number> = {};
    for (const c of sorted) for (const [o, n] of Object.entries(c.outcomes)) totals[o] = (totals[o] ?? 0) + n;
    out.push(
      `Summary: ${sorted.length} device channel${sorted.length === 1 ? '' : 's'}, ${this.exchanges} MDM exchanges, ${sessionCount} sessions${
        Object.keys(totals).length
          ? ` (${Object.entries(totals)
              .map(([o, n]) => `${n} ${OUTCOME_LABEL[o] ?? o}`)
              .join(', ')})`
          : ''
      }.`,
    );
    out.push(
      `${this.warnCount} warning${this.warnCount === 1 ? '' : 's'}, ${this.infoCount} info${
        this.byRule.size ? ` (${[...this.byRule].map(([r, n]) => `${r} ×${n}`).join(', ')})` : ''
      }; ${this.pending.length} push obligation${this.pending.length === 1 ? '' : 's'} pending at the end of the capture.`,
    );
    const open = this.openAtEnd;
    if (open.length) {
      out.push(`${open.length} session${open.length === 1 ? '' : 's'} still open at the end of the capture (not judged): ${open.map((e) => `${e.udid}${e.channel === 'user' ? ' user' : ''} ${e.sessionId}`).join(', ')}.`);
    }
    const r = this.returns;
    if (r.count) {
      const afterPush = r.count - this.selfReturns.count;
      out.push(
        `After a session that ended on NotNow, the device came back ${r.count} time${r.count === 1 ? '' : 's'}: ${spread(r)}` +
          `${afterPush ? `; ${afterPush} of them after a push${this.selfReturns.count ? `, ${this.selfReturns.count} by itself (${spread(this.selfReturns)})` : ''}` : ' (none after a push)'}.`,
      );
    }
    const noReturn = this.byRule.get('notnow-no-return') ?? 0;
    if (noReturn) out.push(`${noReturn} session${noReturn === 1 ? '' : 's'} ended on NotNow without the device coming back within the return window (notnow-no-return).`);
    if (this.wakes.count) out.push(`Sessions drawn by a push: ${this.wakes.count}, ${spread(this.wakes)} after the push.`);
    if (!input.pushesObserved && this.pushes === 0) {
      out.push('Pushes are not observable in this capture: an obligation could only be met by the device returning.');
    }
    if (this.errors > 0) out.push(`${this.errors} proxy error event${this.errors === 1 ? '' : 's'} in the capture.`);
    return out.join('\n') + '\n';
  }

  private chan(ev: { udid: string; channel: string; userId?: string; userShortName?: string; host?: string }): ChannelReport {
    const key = `${ev.host ?? ''}|${ev.udid}|${ev.channel}|${ev.userId ?? ''}`;
    let c = this.channels.get(key);
    if (!c) {
      const who = ev.udid === 'unknown' ? 'unknown device' : ev.udid;
      const user = ev.userShortName && ev.userShortName !== ev.userId ? `${ev.userId} ${ev.userShortName}` : ev.userId;
      const channel = ev.channel === 'user' ? `user channel${user ? ` (user ${user})` : ''}` : 'device channel';
      c = { label: `${who}  ${channel}`, host: ev.host, sessions: 0, lines: [], omitted: 0, outcomes: {} };
      this.channels.set(key, c);
      this.channelAdded();
    }
    return c;
  }

  private line(c: ChannelReport, ts: string, text: string): void {
    c.lines.push({ ts, text });
    while (c.lines.length > this.linesCap) {
      c.lines.shift();
      c.omitted++;
    }
  }

  /** What each channel may keep now; when more channels lower it, every channel is trimmed at once. */
  private linesCap = LINES_PER_CHANNEL;

  private channelAdded(): void {
    const cap = Math.max(LINES_MIN, Math.min(LINES_PER_CHANNEL, Math.floor(LINES_TOTAL / this.channels.size)));
    if (cap >= this.linesCap) return;
    this.linesCap = cap;
    for (const ch of this.channels.values()) {
      const extra = ch.lines.length - cap;
      if (extra > 0) {
        ch.lines.splice(0, extra);
        ch.omitted += extra;
      }
    }
  }

  private tally(requestType: string): CommandTally {
    let t = this.commands.get(requestType);
    if (!t) {
      const key = this.commands.size >= MAX_REQUEST_TYPES ? OTHER_COMMANDS : requestType;
      t = this.commands.get(key);
      if (!t) this.commands.set(key, (t = { sent: 0, statuses: new Map(), unsupported: new Map() }));
    }
    return t;
  }

  private commandsOf(uuids: string[]): string {
    return uuids.map((u) => `${this.requestTypes.get(u) ?? 'command'} ${short(u)}`).join(', ');
  }
}

/** The report of events already in memory (mdmtap view --report, tests). */
export function renderReport(input: ReportInput): string {
  const b = new ReportBuilder();
  for (const ev of input.events) b.add(ev);
  return b.render(input);
}

/** "median 4s, p90 1m, max 2m" of some durations (median and p90 from the sample, max exact). */
function spread(sample: Sample): string {
  const s = [...sample.values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const d = (v: number) => formatDuration(Math.round(v / 1000) * 1000 || v);
  return sample.count === 1 ? `after ${d(sample.max)}` : `median ${d(at(0.5))}, p90 ${d(at(0.9))}, max ${d(sample.max)}`;
}

function byLabel(by: string | undefined): string {
  if (by === 'push') return 'a push';
  if (by === 'device-returned') return 'the device returning';
  if (by === 'checked-out') return 'the device checking out';
  if (by === 'accepted') return 'the server accepting the device again';
  if (by === 'synced') return 'the device fetching the declaration items';
  if (by === 'valid') return 'a status report marking it valid';
  if (by === 'acknowledged') return 'the device acknowledging the command';
  return by ?? '?';
}

function short(uuid: string): string {
  return uuid.length > 8 ? `${uuid.slice(0, 8)}…` : uuid;
}

/** ISO timestamp → "HH:MM:SS.mmm" (UTC); the header gives the full date. */
function clock(ts: string): string {
  return ts.length >= 23 ? ts.slice(11, 23) : ts;
}
