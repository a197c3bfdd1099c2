/**
 * DDM in the analyzer and the fleet model: the `ddm` events, each channel's DDM state, and the three DDM rules
 * (each test is one a rule's removal makes fail).
 */
import { describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/analysis/analyzer.js';
import { Fleet } from '../../src/analysis/fleet.js';
import type { AnalyzerEvent, DdmEvent, WarningEvent } from '../../src/model/events.js';
import type { DdmCheckin, DeclarationStatus, MdmMessage } from '../../src/model/message.js';
import { Device } from '../helpers/messages.js';

const GRACE = 120_000;

function feedAll(an: Analyzer, msgs: MdmMessage[]): AnalyzerEvent[] {
  return msgs.flatMap((m) => [...an.advance(m.ts), ...an.feed(m)]);
}
const ddm = (d: Device, x: Omit<DdmCheckin, 'endpoint'> & { endpoint?: string }, httpStatus = 200) =>
  d.checkin('DeclarativeManagement', { httpStatus, ddm: { endpoint: x.endpoint ?? x.kind, ...x } });
const report = (declarations: DeclarationStatus[], full = false): Omit<DdmCheckin, 'endpoint'> => ({ kind: 'status', status: { full, clientCapabilities: true, declarations, errors: 0 } });
const conf = (identifier: string, valid: string, serverToken = 't1'): DeclarationStatus => ({
  kind: 'configuration', identifier, serverToken, active: valid === 'valid', valid,
  ...(valid === 'invalid' ? { reasons: [{ code: 'Error.ConfigurationCannotBeApplied', description: 'Configuration cannot be applied' }] } : {}),
});
const warnings = (evs: AnalyzerEvent[], rule: string) => evs.filter((e): e is WarningEvent => e.type === 'warning' && e.rule === rule);
const resolved = (evs: AnalyzerEvent[], rule: string) => evs.filter((e) => e.type === 'resolved' && e.rule === rule);

describe('ddm events and the fleet model', () => {
  it('a sync and a report become ddm events, and the channel\'s DDM state: tokens, declarations, when', () => {
    const d = Device.device('DDM-1');
    const an = new Analyzer({ pushGraceMs: GRACE });
    const evs = feedAll(an, [
      ddm(d, { kind: 'tokens', declarationsToken: 'T1' }),
      ddm(d, { kind: 'declaration-items', declarationsToken: 'T1', items: [{ kind: 'configuration', identifier: 'c1', serverToken: 't1' }] }),
      ddm(d, { kind: 'declaration', endpoint: 'declaration/configuration/c1', declaration: { type: 'configuration', identifier: 'c1' } }),
      ddm(d, report([conf('c1', 'valid'), conf('c2', 'invalid')], true)),
    ]);
    const ddmEvents = evs.filter((e): e is DdmEvent => e.type === 'ddm');
    expect(ddmEvents.map((e) => e.event)).toEqual(['tokens', 'declaration-items', 'declaration', 'status']);
    expect(ddmEvents[1]).toMatchObject({ udid: 'DDM-1', channel: 'device', declarationsToken: 'T1', items: [{ kind: 'configuration', identifier: 'c1', serverToken: 't1' }] });
    expect(ddmEvents[3]).toMatchObject({ full: true, clientCapabilities: true, declarations: [conf('c1', 'valid'), conf('c2', 'invalid')] });

    const fleet = new Fleet();
    for (const e of evs) fleet.apply(e);
    const state = [...fleet.all()][0].ddm!;
    expect(state).toMatchObject({ enabled: true, offeredToken: 'T1', syncedToken: 'T1', declarations: [conf('c1', 'valid'), conf('c2', 'invalid')] });
    expect(state.lastSync).toBe(Date.parse(ddmEvents[1].ts));
    expect(state.lastFullReport).toBe(Date.parse(ddmEvents[3].ts));

    // A partial report updates what it names and keeps the rest.
    for (const e of feedAll(an, [ddm(d, report([conf('c2', 'valid', 't2')]))])) fleet.apply(e);
    expect([...fleet.all()][0].ddm!.declarations).toEqual([conf('c1', 'valid'), conf('c2', 'valid', 't2')]);
  });

  it('a 404 to a DDM check-in is said in the ddm event, and is no refusal of the device', () => {
    const d = Device.device('DDM-404');
    const evs = feedAll(new Analyzer({ pushGraceMs: GRACE }), [ddm(d, { kind: 'declaration', endpoint: 'declaration/asset/gone', declaration: { type: 'asset', identifier: 'gone' }, notFound: true }, 404)]);
    expect(evs.find((e) => e.type === 'ddm')).toMatchObject({ event: 'declaration', notFound: true, declaration: { identifier: 'gone' } });
    expect(evs.filter((e) => e.type === 'warning')).toEqual([]);
  });

  it('the DeclarativeManagement command is a ddm event carrying its SyncTokens', () => {
    const d = Device.device('DDM-2');
    const evs = feedAll(new Analyzer({ pushGraceMs: GRACE }), [d.idle({ kind: 'command', commandUUID: 'dm-1', requestType: 'DeclarativeManagement', declarationsToken: 'T9' })]);
    expect(evs.find((e) => e.type === 'ddm')).toMatchObject({ event: 'command', commandUUID: 'dm-1', declarationsToken: 'T9' });
  });
});

describe('ddm-declaration-invalid', () => {
  it('once per invalid declaration, with its reasons; resolved when it is valid again', () => {
    const d = Device.device('DDM-3');
    const an = new Analyzer({ pushGraceMs: GRACE });
    const first = feedAll(an, [ddm(d, report([conf('c1', 'valid'), conf('c2', 'invalid')], true)), ddm(d, report([conf('c2', 'invalid')]))]);
    const w = warnings(first, 'ddm-declaration-invalid');
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ severity: 'info', detail: { kind: 'configuration', identifier: 'c2', reasons: ['Error.ConfigurationCannotBeApplied'] } });
    expect(w[0].message).toContain('Configuration cannot be applied');
    const later = feedAll(an, [ddm(d, report([conf('c2', 'valid', 't2')]))]);
    expect(resolved(later, 'ddm-declaration-invalid')).toEqual([expect.objectContaining({ warningId: w[0].warningId, by: 'valid' })]);
  });
});

describe('ddm-sync-stalled', () => {
  it('new tokens the device never fetches the items for: a warning at the grace, resolved when it syncs', () => {
    const d = Device.device('DDM-4');
    const an = new Analyzer({ pushGraceMs: GRACE });
    // The enrollment begins in view: the device holds no declarations yet.
    feedAll(an, [d.checkin('Authenticate'), ddm(d, { kind: 'tokens', declarationsToken: 'T1' })]);
    const offered = d.t;
    expect(an.advance(offered + GRACE - 1)).toEqual([]);
    const due = an.advance(offered + GRACE);
    const w = warnings(due, 'ddm-sync-stalled');
    expect(w).toEqual([expect.objectContaining({ severity: 'warning', detail: expect.objectContaining({ declarationsToken: 'T1', offeredBy: 'tokens response' }) })]);
    d.at(offered + GRACE + 1000);
    const sync = feedAll(an, [ddm(d, { kind: 'declaration-items', declarationsToken: 'T1', items: [] })]);
    expect(resolved(sync, 'ddm-sync-stalled')).toEqual([expect.objectContaining({ warningId: w[0].warningId, by: 'synced' })]);
  });

  it('a device that fetches the items in time, or tokens it already has, raises nothing', () => {
    const d = Device.device('DDM-5');
    const an = new Analyzer({ pushGraceMs: GRACE });
    const evs = feedAll(an, [
      ddm(d, { kind: 'tokens', declarationsToken: 'T1' }),
      ddm(d, { kind: 'declaration-items', declarationsToken: 'T1', items: [] }),
      ddm(d.wait(600_000), { kind: 'tokens', declarationsToken: 'T1' }),
    ]);
    expect([...evs, ...an.advance(d.t + 10 * GRACE)].filter((e) => e.type === 'warning')).toEqual([]);
  });

  it('a DeclarativeManagement command acknowledged with new tokens and no fetch after it', () => {
    const d = Device.device('DDM-6');
    const an = new Analyzer({ pushGraceMs: GRACE });
    feedAll(an, [
      // What the device holds is known from its last fetch.
      ddm(d, { kind: 'declaration-items', declarationsToken: 'T1', items: [] }),
      d.wait(1000).idle({ kind: 'command', commandUUID: 'dm-1', requestType: 'DeclarativeManagement', declarationsToken: 'T2' }),
      d.report('Acknowledged', 'dm-1', 'end'),
    ]);
    const w = warnings(an.advance(d.t + GRACE), 'ddm-sync-stalled');
    expect(w).toEqual([expect.objectContaining({ detail: expect.objectContaining({ declarationsToken: 'T2', offeredBy: 'DeclarativeManagement command' }) })]);
  });

  it('without knowing what the device holds (no fetch, no enrollment in view) an offered token is not judged', () => {
    const d = Device.device('DDM-10');
    const an = new Analyzer({ pushGraceMs: GRACE });
    // A capture started in front of an enrolled device: it checks its tokens, has them, and rightly fetches nothing.
    const evs = feedAll(an, [ddm(d, { kind: 'tokens', declarationsToken: 'T1' })]);
    expect(warnings([...evs, ...an.advance(d.t + 10 * GRACE)], 'ddm-sync-stalled')).toEqual([]);
  });
});

describe('ddm-notnow-setup', () => {
  it('NotNow to DeclarativeManagement while awaiting configuration; resolved when it is acknowledged', () => {
    const d = Device.device('DDM-7');
    const an = new Analyzer({ pushGraceMs: GRACE });
    const evs = feedAll(an, [
      d.checkin('TokenUpdate', { awaitingConfiguration: true }),
      d.idle(['dm-1', 'DeclarativeManagement']),
      d.report('NotNow', 'dm-1', 'end'),
    ]);
    const w = warnings(evs, 'ddm-notnow-setup');
    expect(w).toEqual([expect.objectContaining({ severity: 'warning', commandUUIDs: ['dm-1'] })]);
    const later = feedAll(an, [d.idle(['dm-1', 'DeclarativeManagement']), d.report('Acknowledged', 'dm-1', 'end')]);
    expect(resolved(later, 'ddm-notnow-setup')).toEqual([expect.objectContaining({ warningId: w[0].warningId, by: 'acknowledged' })]);
  });

  it('the same NotNow on a configured device is not this warning', () => {
    const d = Device.device('DDM-8');
    const evs = feedAll(new Analyzer({ pushGraceMs: GRACE }), [
      d.checkin('TokenUpdate', { awaitingConfiguration: true }),
      d.checkin('TokenUpdate', { awaitingConfiguration: false }),
      d.idle(['dm-1', 'DeclarativeManagement']),
      d.report('NotNow', 'dm-1', 'end'),
    ]);
    expect(warnings(evs, 'ddm-notnow-setup')).toEqual([]);
  });

  it('refused, then offered again in the same session and acknowledged: the server did right, nothing is raised', () => {
    const d = Device.device('DDM-11');
    const evs = feedAll(new Analyzer({ pushGraceMs: GRACE }), [
      d.checkin('TokenUpdate', { awaitingConfiguration: true }),
      d.idle(['dm-1', 'DeclarativeManagement']),
      d.report('NotNow', 'dm-1', ['dm-1', 'DeclarativeManagement']),
      d.report('Acknowledged', 'dm-1', 'end'),
    ]);
    expect(warnings(evs, 'ddm-notnow-setup')).toEqual([]);
  });

  it('refused, and the device released in the same session (DeviceConfigured acknowledged): nothing is raised', () => {
    const d = Device.device('DDM-12');
    const evs = feedAll(new Analyzer({ pushGraceMs: GRACE }), [
      d.checkin('TokenUpdate', { awaitingConfiguration: true }),
      d.idle(['dm-1', 'DeclarativeManagement']),
      d.report('NotNow', 'dm-1', ['dc-1', 'DeviceConfigured']),
      d.report('Acknowledged', 'dc-1', 'end'),
    ]);
    expect(warnings(evs, 'ddm-notnow-setup')).toEqual([]);
  });

  it('an acknowledged DeviceConfigured ends Setup Assistant: a NotNow after it is not this warning', () => {
    const d = Device.device('DDM-9');
    const evs = feedAll(new Analyzer({ pushGraceMs: GRACE }), [
      d.checkin('TokenUpdate', { awaitingConfiguration: true }),
      d.idle(['dc-1', 'DeviceConfigured']),
      d.report('Acknowledged', 'dc-1', 'end'),
      d.wait(60_000).idle(['dm-1', 'DeclarativeManagement']),
      d.report('NotNow', 'dm-1', 'end'),
    ]);
    expect(warnings(evs, 'ddm-notnow-setup')).toEqual([]);
  });
});
