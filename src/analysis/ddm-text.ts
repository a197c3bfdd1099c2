/**
 * DDM in words, one line per sync or report, and per declaration: the report, the dashboard's timeline and detail
 * and `--plain` all say it the same way.
 */
import type { DdmEvent } from '../model/events.js';
import type { DeclarationStatus } from '../model/message.js';
import type { DdmState } from './fleet.js';

const token = (t: string | undefined) => (t === undefined ? '' : ` (token ${t.length > 16 ? `${t.slice(0, 16)}…` : t})`);

export function describeDdm(ev: DdmEvent): string {
  const bad = ev.malformed ? ` · ${ev.malformed.side === 'request' ? 'request' : 'answer'} not decoded: ${ev.malformed.reason}` : '';
  switch (ev.event) {
    case 'command':
      return `DDM: DeclarativeManagement command sent${token(ev.declarationsToken)}`;
    case 'tokens':
      return `DDM sync: tokens${ev.notFound ? ' → 404' : token(ev.declarationsToken)}${bad}`;
    case 'declaration-items':
      return `DDM sync: declaration items${ev.notFound ? ' → 404' : `: ${ev.items?.length ?? 0} offered${token(ev.declarationsToken)}`}${bad}`;
    case 'declaration':
      return `DDM sync: declaration ${ev.declaration ? `${ev.declaration.type} ${ev.declaration.identifier}` : ev.endpoint}${ev.notFound ? ' → 404' : ''}${bad}`;
    case 'status': {
      const ds = ev.declarations ?? [];
      const invalid = ds.filter((d) => d.valid === 'invalid');
      return (
        `DDM status report${ev.full ? ' (full)' : ''}: ${ds.length} declaration${ds.length === 1 ? '' : 's'}` +
        (invalid.length ? `, ${invalid.length} invalid: ${invalid.map((d) => d.identifier).join(', ')}` : '') +
        bad
      );
    }
    default:
      return `DDM ${ev.endpoint ?? ev.event}${ev.notFound ? ' → 404' : ''}${bad}`;
  }
}

/** One declaration's status: kind, identifier, active, validity and the device's reasons. */
export function describeDeclaration(d: DeclarationStatus): string {
  const reasons = (d.reasons ?? []).map((r) => (r.description ? `${r.code} (${r.description})` : r.code)).join('; ');
  return `${d.kind} ${d.identifier} · ${d.active === undefined ? 'active ?' : d.active ? 'active' : 'inactive'} · ${d.valid ?? 'validity ?'}${reasons ? ` · ${reasons}` : ''}`;
}

/** A channel's DDM at a glance: on or not, where it is synced to, when it last reported. */
export function describeDdmState(s: DdmState, clock: (ms: number) => string): string {
  const bits = [s.enabled ? 'DDM on' : 'DDM seen'];
  if (s.offeredToken !== undefined) bits.push(`server token ${s.offeredToken}`);
  bits.push(s.syncedToken === undefined ? 'not synced' : s.syncedToken === s.offeredToken ? 'synced' : `synced to ${s.syncedToken}`);
  if (s.lastFullReport !== undefined) bits.push(`last full report ${clock(s.lastFullReport)}`);
  else if (s.lastReport !== undefined) bits.push(`last report ${clock(s.lastReport)}`);
  return bits.join(' · ');
}
