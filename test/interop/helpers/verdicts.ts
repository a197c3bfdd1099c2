/**
 * What mdmtap concluded, reduced to comparable verdicts: session outcomes, warnings and obligation events,
 * from any stream of its events (live JSON lines or `analyze --json`).
 */
import type { AnalyzerEvent, ObligationEvent, SessionEvent, WarningEvent } from '../../../src/model/events.js';

export const sessionEnds = (events: AnalyzerEvent[]): SessionEvent[] =>
  events.filter((e): e is SessionEvent => e.type === 'session' && e.event === 'end');

export const warnings = (events: AnalyzerEvent[]): WarningEvent[] => events.filter((e): e is WarningEvent => e.type === 'warning');

export const obligations = (events: AnalyzerEvent[]): ObligationEvent[] => events.filter((e): e is ObligationEvent => e.type === 'obligation');

/**
 * Sorted one-line descriptions, so two streams compare with toEqual and a difference reads plainly. Obligations
 * are compared by where each ended up: `analyze` adds a `pending` event for one still open when the capture
 * ends, which a live run stopped by a signal does not print, and both mean the push is still owed.
 */
export function verdicts(events: AnalyzerEvent[]): { sessions: string[]; warnings: string[]; obligations: string[] } {
  return {
    sessions: sessionEnds(events).map((e) => `${e.sessionId} ${e.udid} ${e.outcome}${e.reason ? ` (${e.reason})` : ''}`).sort(),
    warnings: warnings(events).map((e) => `${e.rule} ${e.severity} ${e.sessionId ?? '-'} ${e.udid}`).sort(),
    obligations: [...finalObligations(events)].map(([id, state]) => `${id} ${state}`).sort(),
  };
}

/** sessionId → `owed (outcome)` or `discharged by …`, from the last obligation event about that session. */
function finalObligations(events: AnalyzerEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of obligations(events)) {
    out.set(o.sessionId, o.event === 'discharged' ? `discharged by ${o.by ?? '?'}` : `owed (${o.outcome ?? '?'})`);
  }
  return out;
}
