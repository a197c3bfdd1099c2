/**
 * The person-readable `mdmtap analyze` report, built from the event stream alone, so it says exactly what
 * `--json` would have printed, grouped per device channel.
 */
import type { AnalyzerEvent, ObligationEvent, SessionEvent, WarningEvent } from '../analysis/events.js';
import { formatDuration } from '../util/duration.js';

export interface ReportInput {
  files: Array<{ name: string; format: string; exchanges: number }>;
  events: AnalyzerEvent[];
  pushGraceMs: number;
  endTs?: number;
  pushesObserved: boolean;
}

interface ChannelReport {
  label: string;
  platform?: string;
  host?: string;
  sessions: SessionEvent[];
  lines: Array<{ ts: string; text: string }>;
  outcomes: Record<string, number>;
}

const OUTCOME_LABEL: Record<string, string> = {
  clean: 'clean',
  'ended-on-notnow': 'ended on NotNow',
  recovered: 'recovered',
  stranded: 'stranded',
  interrupted: 'interrupted',
};

export function renderReport(input: ReportInput): string {
  const { events } = input;
  const requestTypes = new Map<string, string>();
  for (const ev of events) {
    if (ev.type === 'exchange' && ev.replyCommandUUID && ev.requestType) requestTypes.set(ev.replyCommandUUID, ev.requestType);
  }
  const channels = new Map<string, ChannelReport>();
  const chan = (ev: { udid: string; channel: string; userId?: string; userShortName?: string; host?: string }): ChannelReport => {
    const key = `${ev.host ?? ''}|${ev.udid}|${ev.channel}|${ev.userId ?? ''}`;
    let c = channels.get(key);
    if (!c) {
      const who = ev.udid === 'unknown' ? 'unknown device' : ev.udid;
      const user = ev.userShortName && ev.userShortName !== ev.userId ? `${ev.userId} ${ev.userShortName}` : ev.userId;
      const channel = ev.channel === 'user' ? `user channel${user ? ` (user ${user})` : ''}` : 'device channel';
      c = { label: `${who}  ${channel}`, host: ev.host, sessions: [], lines: [], outcomes: {} };
      channels.set(key, c);
    }
    return c;
  };
  const warnings: WarningEvent[] = [];
  const pending: ObligationEvent[] = [];
  const openAtEnd: SessionEvent[] = [];
  const returns: Array<{ ms: number; afterPush: boolean }> = [];
  const wakes: number[] = [];
  let exchanges = 0;
  let pushes = 0;
  let errors = 0;
  const commandsOf = (uuids: string[] | undefined): string =>
    (uuids ?? []).map((u) => `${requestTypes.get(u) ?? 'command'} ${short(u)}`).join(', ');

  for (const ev of events) {
    switch (ev.type) {
      case 'exchange': {
        exchanges++;
        const c = chan(ev);
        if (ev.platform) c.platform = ev.platform;
        break;
      }
      case 'session': {
        if (ev.event === 'start') {
          if (ev.sinceNotNowMs !== undefined) returns.push({ ms: ev.sinceNotNowMs, afterPush: ev.sincePushMs !== undefined });
          if (ev.sincePushMs !== undefined) wakes.push(ev.sincePushMs);
          break;
        }
        if (ev.event === 'pending') {
          openAtEnd.push(ev);
          chan(ev).lines.push({ ts: ev.ts, text: `session ${ev.sessionId} still open at the end of the capture${ev.lastStatus ? ` · last status ${ev.lastStatus}` : ''}` });
          break;
        }
        const c = chan(ev);
        c.sessions.push(ev);
        const outcome = ev.outcome ?? 'clean';
        c.outcomes[outcome] = (c.outcomes[outcome] ?? 0) + 1;
        if (outcome !== 'clean' || ev.userConfiguration) {
          const bits = [`session ${OUTCOME_LABEL[outcome] ?? outcome}`];
          if (ev.lastStatus) bits.push(`last status ${ev.lastStatus}`);
          if (ev.notNowCommands?.length) bits.push(`NotNow: ${commandsOf(ev.notNowCommands)}`);
          if (ev.outstanding?.length) bits.push(`still outstanding: ${commandsOf(ev.outstanding)}`);
          if (ev.reason) bits.push(ev.detail ? `${ev.reason}: ${ev.detail}` : ev.reason);
          if (ev.userConfiguration) bits.push('Setup Assistant (UserConfiguration): NotNow expected');
          c.lines.push({ ts: ev.ts, text: bits.join(' · ') });
        }
        break;
      }
      case 'warning': {
        warnings.push(ev);
        const c = chan(ev);
        const tag = ev.severity === 'warning' ? 'WARNING' : 'info   ';
        c.lines.push({ ts: ev.ts, text: `${tag} ${ev.rule}: ${ev.message}` });
        break;
      }
      case 'resolved': {
        chan(ev).lines.push({ ts: ev.ts, text: `resolved ${ev.rule} (session ${ev.sessionId}) by ${byLabel(ev.by)}` });
        break;
      }
      case 'obligation': {
        const c = chan(ev);
        if (ev.event === 'open') {
          c.lines.push({ ts: ev.ts, text: `push owed for session ${ev.sessionId} by ${clock(ev.deadline)}` });
        } else if (ev.event === 'discharged') {
          c.lines.push({ ts: ev.ts, text: `push obligation met by ${byLabel(ev.by)}` });
        } else {
          pending.push(ev);
          c.lines.push({ ts: ev.ts, text: `pending: push still owed at the end of the capture (due ${clock(ev.deadline)})` });
        }
        break;
      }
      case 'push':
        pushes++;
        break;
      case 'error':
        errors++;
        break;
    }
  }

  const out: string[] = [];
  const files = input.files.map((f) => `${f.name} (${f.format}, ${f.exchanges} exchanges)`).join(', ');
  out.push(`mdmtap analyze: ${files}`);
  out.push(
    `push grace ${formatDuration(input.pushGraceMs)}; deadlines judged at ${
      input.endTs !== undefined ? new Date(input.endTs).toISOString() : 'the end of the capture'
    } (the capture's last timestamp)`,
  );
  out.push('');
  const sorted = [...channels.values()].sort((a, b) => a.label.localeCompare(b.label));
  for (const c of sorted) {
    const head = [c.label];
    if (c.platform) head.push(c.platform);
    if (c.host) head.push(`server ${c.host}`);
    out.push(head.join('  ·  '));
    const total = c.sessions.length;
    const parts = Object.entries(c.outcomes).map(([o, n]) => `${n} ${OUTCOME_LABEL[o] ?? o}`);
    out.push(`  ${total} session${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`);
    for (const l of c.lines) out.push(`  ${clock(l.ts)}  ${l.text}`);
    out.push('');
  }
  if (sorted.length === 0) out.push('No MDM traffic found in the capture.', '');

  const sessionCount = sorted.reduce((n, c) => n + c.sessions.length, 0);
  const totals: Record<string, number> = {};
  for (const c of sorted) for (const [o, n] of Object.entries(c.outcomes)) totals[o] = (totals[o] ?? 0) + n;
  const warnCount = warnings.filter((w) => w.severity === 'warning').length;
  const infoCount = warnings.length - warnCount;
  const byRule = new Map<string, number>();
  for (const w of warnings) byRule.set(w.rule, (byRule.get(w.rule) ?? 0) + 1);
  out.push(
    `Summary: ${sorted.length} device channel${sorted.length === 1 ? '' : 's'}, ${exchanges} MDM exchanges, ${sessionCount} sessions${
      Object.keys(totals).length
        ? ` (${Object.entries(totals)
            .map(([o, n]) => `${n} ${OUTCOME_LABEL[o] ?? o}`)
            .join(', ')})`
        : ''
    }.`,
  );
  out.push(
    `${warnCount} warning${warnCount === 1 ? '' : 's'}, ${infoCount} info${
      byRule.size ? ` (${[...byRule].map(([r, n]) => `${r} ×${n}`).join(', ')})` : ''
    }; ${pending.length} push obligation${pending.length === 1 ? '' : 's'} pending at the end of the capture.`,
  );
  if (openAtEnd.length) {
    out.push(`${openAtEnd.length} session${openAtEnd.length === 1 ? '' : 's'} still open at the end of the capture (not judged): ${openAtEnd.map((e) => `${e.udid}${e.channel === 'user' ? ' user' : ''} ${e.sessionId}`).join(', ')}.`);
  }
  if (returns.length) {
    const self = returns.filter((r) => !r.afterPush).map((r) => r.ms);
    out.push(
      `After a session that ended on NotNow, the device came back ${returns.length} time${returns.length === 1 ? '' : 's'}: ${spread(returns.map((r) => r.ms))}` +
        `${self.length < returns.length ? `; ${returns.length - self.length} of them after a push${self.length ? `, ${self.length} by itself (${spread(self)})` : ''}` : ' (none after a push)'}.`,
    );
  }
  const noReturn = warnings.filter((w) => w.rule === 'notnow-no-return').length;
  if (noReturn) out.push(`${noReturn} session${noReturn === 1 ? '' : 's'} ended on NotNow without the device coming back within the return window (notnow-no-return).`);
  if (wakes.length) out.push(`Sessions drawn by a push: ${wakes.length}, ${spread(wakes)} after the push.`);
  if (!input.pushesObserved && pushes === 0) {
    out.push('Pushes are not observable in this capture: an obligation could only be met by the device returning.');
  }
  if (errors > 0) out.push(`${errors} proxy error event${errors === 1 ? '' : 's'} in the capture.`);
  return out.join('\n') + '\n';
}

/** "median 4s, p90 1m, max 2m" of some durations. */
function spread(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const d = (v: number) => formatDuration(Math.round(v / 1000) * 1000 || v);
  return s.length === 1 ? `after ${d(s[0])}` : `median ${d(at(0.5))}, p90 ${d(at(0.9))}, max ${d(s[s.length - 1])}`;
}

function byLabel(by: string | undefined): string {
  if (by === 'push') return 'a push';
  if (by === 'device-returned') return 'the device returning';
  if (by === 'checked-out') return 'the device checking out';
  if (by === 'accepted') return 'the server accepting the device again';
  return by ?? '?';
}

function short(uuid: string): string {
  return uuid.length > 8 ? `${uuid.slice(0, 8)}…` : uuid;
}

/** ISO timestamp → "HH:MM:SS.mmm" (UTC); the header gives the full date. */
function clock(ts: string): string {
  return ts.length >= 23 ? ts.slice(11, 23) : ts;
}
