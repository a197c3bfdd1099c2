/**
 * A readable line per session outcome, obligation and warning: for a terminal when the dashboard is not wanted
 * (`--plain`). Exchanges are left out; `--json` has everything.
 */
import type { Writable } from 'node:stream';
import type { AnalyzerEvent } from '../model/events.js';
import type { Sink } from './sink.js';
import { printable } from '../util/printable.js';

export function describeEvent(ev: AnalyzerEvent): string | undefined {
  const time = ev.ts.slice(11, 23);
  const who = 'udid' in ev && ev.udid ? `${ev.udid}${'channel' in ev && ev.channel === 'user' ? ` user ${'userId' in ev ? (ev.userId ?? '') : ''}` : ''}` : '';
  switch (ev.type) {
    case 'session':
      if (ev.event === 'pending') return `${time}  ${who}  session still open (not judged)${ev.lastStatus ? ` (last status ${ev.lastStatus})` : ''}`;
      if (ev.event !== 'end') return undefined;
      return `${time}  ${who}  session ${ev.outcome}${ev.lastStatus ? ` (last status ${ev.lastStatus})` : ''}${ev.reason ? `: ${ev.detail ?? ev.reason}` : ''}`;
    case 'obligation':
      return `${time}  ${who}  push ${ev.event === 'open' ? `owed by ${ev.deadline.slice(11, 19)}` : ev.event === 'discharged' ? `no longer owed (${ev.by})` : 'still owed (pending)'}`;
    case 'warning':
      return `${time}  ${who}  ${ev.severity === 'warning' ? 'WARNING' : 'info'} ${ev.rule}: ${ev.message}`;
    case 'resolved':
      return `${time}  ${who}  resolved ${ev.rule} (${ev.by})`;
    case 'push':
      return `${time}  ${who || 'unknown token'}  push ${ev.tokenHex ?? ''} → APNs ${ev.apnsStatus}${ev.reason ? ` ${ev.reason}` : ''}`;
    case 'error':
      return `${time}  error ${ev.kind}: ${ev.message}`;
    default:
      return undefined;
  }
}

export function consoleSink(out: Writable = process.stdout): Sink {
  return {
    event(ev) {
      const line = describeEvent(ev);
      if (line) out.write(printable(line) + '\n');
    },
  };
}
