import { describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/analysis/analyzer.js';
import type { AnalyzerEvent, SessionEvent, WarningEvent } from '../../src/model/events.js';
import type { MdmMessage, PushSeen } from '../../src/model/message.js';
import { Device, push } from '../helpers/messages.js';

const GRACE = 120_000;
const A: [string, string] = ['UUID-A', 'InstallProfile'];
const B: [string, string] = ['UUID-B', 'DeviceInformation'];
const C: [string, string] = ['UUID-C', 'ProfileList'];

function run(items: Array<MdmMessage | PushSeen>, opts: { finishAt?: number } = {}, an = new Analyzer({ pushGraceMs: GRACE })): AnalyzerEvent[] {
  const events: AnalyzerEvent[] = [];
  for (const it of items) events.push(...('endpoint' in it ? an.feed(it) : an.feedPush(it)));
  if (opts.finishAt !== undefined) events.push(...an.finish(opts.finishAt));
  return events;
}

const warnings = (evs: AnalyzerEvent[]) => evs.filter((e): e is WarningEvent => e.type === 'warning');
const ends = (evs: AnalyzerEvent[]) => evs.filter((e): e is SessionEvent => e.type === 'session' && e.event === 'end');
const of = <T extends AnalyzerEvent['type']>(evs: AnalyzerEvent[], type: T) =>
  evs.filter((e): e is Extract<AnalyzerEvent, { type: T }> => e.type === type);

describe('session outcomes', () => {
  it('clean: no NotNow, ended by the empty reply, nothing owed', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('Acknowledged', 'UUID-A', 'end')], { finishAt: d.t + 10 * GRACE });
    expect(ends(evs)).toMatchObject([{ outcome: 'clean', lastStatus: 'Acknowledged', exchanges: 2 }]);
    expect(of(evs, 'obligation')).toEqual([]);
    expect(warnings(evs)).toEqual([]);
  });

  it('the event order for a message: session start, exchange, session end', () => {
    const d = Device.device();
    const evs = run([d.idle('end')]);
    expect(evs.map((e) => `${e.type}${'event' in e ? ':' + e.event : ''}`)).toEqual(['session:start', 'exchange', 'session:end']);
    expect(evs[1]).toMatchObject({ endpoint: 'command', status: 'Idle', reply: 'end', httpStatus: 200, sessionId: (evs[0] as { sessionId: string }).sessionId });
  });

  it("Apple's stop-and-resend stays quiet: ended on NotNow, then the command is sent again", () => {
    const d = Device.device();
    const evs = run(
      [d.idle(A), d.report('NotNow', 'UUID-A', 'end'), d.wait(600_000).idle(A), d.report('Acknowledged', 'UUID-A', 'end')],
      { finishAt: d.t + 10 * GRACE },
    );
    expect(ends(evs).map((e) => 'outcome' in e && e.outcome)).toEqual(['ended-on-notnow', 'clean']);
    expect(ends(evs)[0]).toMatchObject({ notNowCommands: ['UUID-A'], lastStatus: 'NotNow' });
    expect(of(evs, 'obligation')).toEqual([]);
    expect(warnings(evs)).toEqual([]);
  });

  it('NanoMDM re-offering the refused command so the session ends on NotNow stays quiet', () => {
    const d = Device.device();
    const evs = run(
      [d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', A), d.report('NotNow', 'UUID-A', 'end')],
      { finishAt: d.t + 10 * GRACE },
    );
    expect(ends(evs)).toMatchObject([{ outcome: 'ended-on-notnow' }]);
    expect(warnings(evs)).toEqual([]);
  });

  it('a server that keeps going after NotNow strands the command: obligation, then notnow-no-push at the deadline, not before', () => {
    const d = Device.device();
    const an = new Analyzer({ pushGraceMs: GRACE });
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end')], {}, an);
    const end = d.t;
    expect(ends(evs)).toMatchObject([{ outcome: 'stranded', lastStatus: 'Acknowledged', notNowCommands: ['UUID-A'] }]);
    expect(of(evs, 'obligation')).toMatchObject([{ event: 'open', outcome: 'stranded', deadline: new Date(end + GRACE).toISOString() }]);
    expect(an.advance(end + GRACE - 1)).toEqual([]);
    const late = an.advance(end + GRACE);
    expect(warnings(late)).toMatchObject([
      { rule: 'notnow-no-push', severity: 'warning', udid: 'UDID-1', channel: 'device', commandUUIDs: ['UUID-A'], ts: new Date(end + GRACE).toISOString() },
    ]);
    expect(warnings(late)[0].message).toMatch(/InstallProfile/);
    expect(warnings(late)[0].message).toMatch(/push/i);
  });

  it('a device returning within the grace discharges the obligation and nothing is raised', () => {
    const d = Device.device();
    const evs = run(
      [d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end'), d.wait(GRACE / 2).idle(A), d.report('Acknowledged', 'UUID-A', 'end')],
      { finishAt: d.t + 10 * GRACE },
    );
    expect(of(evs, 'obligation').map((o) => [o.event, o.by])).toEqual([['open', undefined], ['discharged', 'device-returned']]);
    expect(warnings(evs)).toEqual([]);
  });

  it('a device returning after the deadline resolves the raised warning', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end'), d.wait(GRACE * 3).idle(A), d.report('Acknowledged', 'UUID-A', 'end')]);
    const w = warnings(evs);
    expect(w.map((x) => x.rule)).toEqual(['notnow-no-push']);
    expect(of(evs, 'resolved')).toMatchObject([{ rule: 'notnow-no-push', by: 'device-returned', sessionId: w[0].sessionId }]);
    // The warning comes first, stamped with the deadline; the resolution with the return.
    expect(evs.indexOf(w[0])).toBeLessThan(evs.indexOf(of(evs, 'resolved')[0]));
  });

  it('interrupted by an HTTP error after a final status owes a push', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('Acknowledged', 'UUID-A', { kind: 'http-error', httpStatus: 500 })], { finishAt: d.t + GRACE + 1 });
    expect(ends(evs)).toMatchObject([{ outcome: 'interrupted', reason: 'http-error', detail: 'HTTP 500 from the server' }]);
    expect(warnings(evs).map((w) => w.rule)).toEqual(['interrupted-no-push']);
  });

  it('a report that never reached the server changes nothing there: a failed Idle is only a record; mid-session, the push owed stands', () => {
    for (const error of ['upstream-unreachable', 'tls'] as const) {
      const d = Device.device(`UDID-${error}`);
      const first = run([d.idle({ kind: 'failed', error })], { finishAt: d.t + 10 * GRACE });
      expect(ends(first)).toMatchObject([{ outcome: 'interrupted', reason: 'failed' }]);
      expect(of(first, 'obligation')).toEqual([]);
      expect(warnings(first)).toEqual([]);
      // Mid-session, the server saw the session up to its last reply: a push is owed as after any interruption.
      const mid = run([d.wait(1000).idle(A), d.report('Acknowledged', 'UUID-A', { kind: 'failed', error })], { finishAt: d.t + 10 * GRACE });
      expect(ends(mid)).toMatchObject([{ outcome: 'interrupted', reason: 'failed', lastStatus: 'Idle' }]);
      expect(warnings(mid).map((w) => w.rule)).toEqual(['interrupted-no-push']);
      // A failed Idle ends the session before it as a new session would, but the server never saw the device
      // return: the push that session owes stands. The Idle's own session owes nothing.
      const e = Device.device(`UDID-${error}-2`);
      const restart = run([e.idle(A), e.report('Acknowledged', 'UUID-A', B), e.wait(20_000).idle({ kind: 'failed', error })], { finishAt: e.t + 10 * GRACE });
      expect(ends(restart).map((x) => x.reason)).toEqual(['new-session', 'failed']);
      expect(of(restart, 'obligation').filter((o) => o.event === 'open')).toHaveLength(1);
      expect(warnings(restart).map((w) => w.rule)).toEqual(['interrupted-no-push']);
    }
    // The server took the report, or may have: a push is owed as before.
    const d = Device.device();
    const reset = run([d.idle(A), d.report('Acknowledged', 'UUID-A', { kind: 'failed', error: 'connection-reset' })], { finishAt: d.t + 10 * GRACE });
    expect(warnings(reset).map((w) => w.rule)).toEqual(['interrupted-no-push']);
  });

  it('interrupted with NotNow as the last status owes nothing (the device polls)', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', { kind: 'failed', error: 'connection-reset' })], { finishAt: d.t + 10 * GRACE });
    expect(ends(evs)).toMatchObject([{ outcome: 'interrupted', lastStatus: 'NotNow' }]);
    expect(of(evs, 'obligation')).toEqual([]);
    expect(warnings(evs)).toEqual([]);
  });

  it('a session silent past the timeout ends interrupted at last exchange + timeout', () => {
    const d = Device.device();
    const an = new Analyzer({ pushGraceMs: GRACE, sessionTimeoutMs: 60_000 });
    run([d.idle(A)], {}, an);
    const evs = an.advance(d.t + 60_000);
    expect(ends(evs)).toMatchObject([{ outcome: 'interrupted', ts: new Date(d.t + 60_000).toISOString() }]);
    expect(ends(evs)[0]).toMatchObject({ reason: 'timeout', detail: expect.stringMatching(/60s/) });
    expect(of(evs, 'obligation')).toMatchObject([{ event: 'open', outcome: 'interrupted' }]);
  });

  it('a new Idle before the empty reply interrupts the old session without owing a push', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.wait(1000).idle('end')], { finishAt: d.t + 10 * GRACE });
    expect(ends(evs).map((e) => 'outcome' in e && e.outcome)).toEqual(['interrupted', 'clean']);
    expect(ends(evs)[0]).toMatchObject({ reason: 'new-session' });
    expect(of(evs, 'obligation')).toEqual([]);
    expect(warnings(evs)).toEqual([]);
  });

  it('an invalid reply body interrupts the session and is flagged malformed', () => {
    const d = Device.device();
    const evs = run([d.idle({ kind: 'invalid', reason: 'undecodable' }, { malformedResponse: { reason: 'undecodable', offset: 3 } })]);
    expect(ends(evs)).toMatchObject([{ outcome: 'interrupted' }]);
    expect(warnings(evs)).toMatchObject([{ rule: 'malformed-body', severity: 'info', detail: { side: 'response', offset: 3 } }]);
  });
});

describe('channels and identities', () => {
  it('device and user channels of one UDID are separate sessions, interleaved', () => {
    const d = Device.device();
    const u = d.user('USER-7');
    const evs = run(
      [d.idle(A), u.at(d.t + 10).idle(C), d.report('NotNow', 'UUID-A', B), u.report('NotNow', 'UUID-C', 'end'), d.at(u.t + 10).report('Acknowledged', 'UUID-B', 'end')],
      { finishAt: d.t + GRACE },
    );
    const e = ends(evs);
    expect(e).toMatchObject([
      { channel: 'user', userId: 'USER-7', outcome: 'ended-on-notnow' },
      { channel: 'device', outcome: 'stranded' },
    ]);
    expect(e[0].sessionId).not.toBe(e[1].sessionId);
    expect(warnings(evs)).toMatchObject([{ rule: 'notnow-no-push', channel: 'device' }]);
  });

  it('User Enrollment ids key sessions like UDIDs', () => {
    const d = new Device({ udid: 'ENROLLMENT-ID-1', channel: 'device', userEnrollment: true });
    const u = new Device({ udid: 'ENROLLMENT-ID-1', channel: 'user', userId: 'ENROLLMENT-USER-1', userEnrollment: true });
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end'), u.at(d.t).idle('end')], { finishAt: d.t + GRACE });
    expect(ends(evs)).toMatchObject([{ udid: 'ENROLLMENT-ID-1', outcome: 'stranded' }, { udid: 'ENROLLMENT-ID-1', userId: 'ENROLLMENT-USER-1', outcome: 'clean' }]);
    // The user channel's session does not discharge the device channel's obligation.
    expect(warnings(evs).map((w) => [w.rule, w.channel])).toEqual([['notnow-no-push', 'device']]);
  });

  it('Setup Assistant NotNow loops on the user channel (UserConfiguration) raise nothing', () => {
    const u = Device.device().user();
    const items: MdmMessage[] = [];
    for (let i = 0; i < 6; i++) {
      items.push(u.wait(1000).idle(A, { userConfiguration: true }));
      items.push(u.report('NotNow', 'UUID-A', [`UUID-B${i}`, 'DeviceInformation'], { userConfiguration: true }));
      items.push(u.report('Acknowledged', `UUID-B${i}`, 'end', { userConfiguration: true }));
    }
    const evs = run(items, { finishAt: u.t + 10 * GRACE });
    expect(ends(evs)).toHaveLength(6);
    expect(ends(evs)[0]).toMatchObject({ userConfiguration: true });
    expect(of(evs, 'obligation')).toEqual([]);
    expect(warnings(evs)).toEqual([]);
  });
});

describe('pushes', () => {
  const stranded = (d: Device) => [d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end')];

  it('a push to the channel discharges its obligation at once', () => {
    const d = Device.device();
    const items = [d.tokenUpdate('tok-1'), ...stranded(d)];
    const evs = run([...items, push(d.t + 1000, 'tok-1')], { finishAt: d.t + 10 * GRACE });
    expect(of(evs, 'push')).toMatchObject([{ udid: 'UDID-1', channel: 'device', apnsStatus: 200 }]);
    expect(of(evs, 'push')[0].tokenHex).toMatch(/^[0-9a-f]{8}…$/);
    expect(of(evs, 'obligation').map((o) => [o.event, o.by])).toEqual([['open', undefined], ['discharged', 'push']]);
    // The push woke nothing by the end of this capture: that is its own (info) finding, not a fault of the server.
    expect(warnings(evs).map((w) => [w.rule, w.severity])).toEqual([['push-no-checkin', 'info']]);
  });

  it('a push APNs never answered (mdmtap could not reach it) still counts for the server: the obligation is discharged', () => {
    const d = Device.device();
    const evs = run([d.tokenUpdate('tok-1'), ...stranded(d), push(d.t + 1000, 'tok-1', { apnsStatus: 0 })], { finishAt: d.t + 10 * GRACE });
    expect(of(evs, 'obligation').map((o) => [o.event, o.by])).toEqual([['open', undefined], ['discharged', 'push']]);
    expect(warnings(evs).filter((w) => w.severity === 'warning')).toEqual([]);
    // APNs refusing it is another matter: nothing was delivered, the server is still judged.
    const e = Device.device('UDID-2');
    const refused = run([e.tokenUpdate('tok-2'), ...stranded(e), push(e.t + 1000, 'tok-2', { apnsStatus: 400, reason: 'BadDeviceToken' })], { finishAt: e.t + 10 * GRACE });
    expect(warnings(refused).map((w) => w.rule).sort()).toEqual(['notnow-no-push', 'push-rejected']);
  });

  it('a push after the deadline resolves the warning', () => {
    const d = Device.device();
    const evs = run([d.tokenUpdate('tok-1'), ...stranded(d), push(d.t + GRACE * 2, 'tok-1')]);
    expect(warnings(evs).map((w) => w.rule)).toEqual(['notnow-no-push']);
    expect(of(evs, 'resolved')).toMatchObject([{ rule: 'notnow-no-push', by: 'push' }]);
  });

  it('a rejected push discharges nothing and raises push-rejected with the reason', () => {
    const d = Device.device();
    const evs = run([d.tokenUpdate('tok-1'), ...stranded(d), push(d.t + 1000, 'tok-1', { apnsStatus: 410, reason: 'Unregistered' })], { finishAt: d.t + GRACE + 1 });
    expect(warnings(evs).map((w) => w.rule)).toEqual(['push-rejected', 'notnow-no-push']);
    expect(warnings(evs)[0]).toMatchObject({ udid: 'UDID-1', detail: { apnsStatus: 410, reason: 'Unregistered' } });
  });

  it('a push to a token no TokenUpdate announced raises push-unknown-token', () => {
    const evs = run([push(1000, 'never-seen')]);
    expect(of(evs, 'push')[0].udid).toBeUndefined();
    expect(warnings(evs)).toMatchObject([{ rule: 'push-unknown-token', severity: 'warning' }]);
  });

  it("a push whose mdm value is not the channel's PushMagic is flagged and does not discharge", () => {
    const d = Device.device();
    const evs = run([d.tokenUpdate('tok-1', 'magic-right'), ...stranded(d), push(d.t + 1000, 'tok-1', { pushMagic: 'magic-wrong' })], { finishAt: d.t + GRACE + 1 });
    expect(warnings(evs).map((w) => [w.rule, w.severity])).toEqual([['push-magic-mismatch', 'info'], ['notnow-no-push', 'warning']]);
  });

  it('a new TokenUpdate replaces the old token; CheckOut forgets the device and cancels what it owed', () => {
    const d = Device.device();
    const evs = run([d.tokenUpdate('old'), d.tokenUpdate('new'), push(d.t + 1, 'old'), push(d.t + 2, 'new')]);
    expect(warnings(evs).map((w) => w.rule)).toEqual(['push-unknown-token']);
    const d2 = Device.device('UDID-2');
    const evs2 = run([d2.tokenUpdate('t2'), ...stranded(d2), d2.checkin('CheckOut'), push(d2.t + 1, 't2')], { finishAt: d2.t + 10 * GRACE });
    expect(of(evs2, 'obligation').map((o) => [o.event, o.by])).toEqual([['open', undefined], ['discharged', 'checked-out']]);
    // A server may still push to a checked-out device (NanoMDM does): the push is recognised, wakes nothing, owes nothing.
    expect(of(evs2, 'push')).toMatchObject([{ udid: 'UDID-2', channel: 'device' }]);
    expect(warnings(evs2)).toEqual([]);
  });
});

describe('rules', () => {
  it('notnow-retry-storm fires at the 3rd refusal of one command in a session, once', () => {
    const d = Device.device();
    const two = run([d.idle(A), d.report('NotNow', 'UUID-A', A), d.report('NotNow', 'UUID-A', 'end')]);
    expect(warnings(two)).toEqual([]);
    const e = Device.device('UDID-2');
    const five = run([e.idle(A), e.report('NotNow', 'UUID-A', A), e.report('NotNow', 'UUID-A', A), e.report('NotNow', 'UUID-A', A), e.report('NotNow', 'UUID-A', 'end')]);
    expect(warnings(five)).toMatchObject([{ rule: 'notnow-retry-storm', commandUUIDs: ['UUID-A'], detail: { refusals: 3 } }]);
  });

  it('notnow-retry-storm catches the Power Nap ping-pong: two refused commands alternated (micromdm#225)', () => {
    const d = Device.device();
    const pingPong = run([
      d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('NotNow', 'UUID-B', A), d.report('NotNow', 'UUID-A', B),
      d.report('NotNow', 'UUID-B', A), d.report('NotNow', 'UUID-A', 'end'),
    ]);
    expect(warnings(pingPong)).toMatchObject([{ rule: 'notnow-retry-storm', commandUUIDs: ['UUID-A'], detail: { refusals: 3, alternatedWith: ['UUID-B'] } }]);
    expect(warnings(pingPong)[0].message).toMatch(/alternating it with DeviceInformation/);
  });

  it('notnow-retry-storm does not count a repeated report the server did not answer with the command again', () => {
    const d = Device.device();
    // The device repeats its NotNow (a retried request): the server offered A once, so that is one refusal.
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('NotNow', 'UUID-A', B), d.report('NotNow', 'UUID-A', 'end')]);
    expect(warnings(evs).filter((w) => w.rule === 'notnow-retry-storm')).toEqual([]);
  });

  it('notnow-retry-storm stays quiet when the refused command is re-offered after others were completed (NanoMDM)', () => {
    const d = Device.device();
    const D: [string, string] = ['UUID-D', 'SecurityInfo'];
    const evs = run([
      d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', A), d.report('NotNow', 'UUID-A', C),
      d.report('Acknowledged', 'UUID-C', A), d.report('NotNow', 'UUID-A', D), d.report('Acknowledged', 'UUID-D', A), d.report('NotNow', 'UUID-A', 'end'),
    ]);
    expect(warnings(evs).filter((w) => w.rule === 'notnow-retry-storm')).toEqual([]);
    // The same session with the completions taken out is a storm.
    const e = Device.device('UDID-2');
    const storm = run([e.idle(A), e.report('NotNow', 'UUID-A', B), e.report('NotNow', 'UUID-B', A), e.report('NotNow', 'UUID-A', C), e.report('NotNow', 'UUID-C', A), e.report('NotNow', 'UUID-A', 'end')]);
    expect(warnings(storm).map((w) => w.rule)).toEqual(['notnow-retry-storm']);
  });

  it('chronic-notnow at the 5th NotNow session in a row, not the 4th, and re-armed by a quiet session', () => {
    const d = Device.device();
    const notNowSession = (c: [string, string] = A) => [d.wait(1000).idle(c), d.report('NotNow', c[0], 'end')];
    const four = run([...notNowSession(), ...notNowSession(), ...notNowSession(), ...notNowSession()]);
    expect(warnings(four)).toEqual([]);
    const an = new Analyzer({ pushGraceMs: GRACE });
    const seq = [1, 2, 3, 4, 5].flatMap(() => notNowSession());
    const five = run(seq, {}, an);
    expect(warnings(five).map((w) => [w.rule, w.severity])).toEqual([['chronic-notnow', 'info']]);
    // The refused command finally runs (a quiet session), then another one is refused five sessions in a row.
    const more = run([...notNowSession(), d.wait(1000).idle(A), d.report('Acknowledged', 'UUID-A', 'end'), ...[1, 2, 3, 4, 5].flatMap(() => notNowSession(C))], {}, an);
    expect(warnings(more).map((w) => w.rule)).toEqual(['chronic-notnow']);
  });

  it('notnow-not-resent: a refused command missing from the next completed session', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', 'end'), d.wait(5000).idle(B), d.report('Acknowledged', 'UUID-B', 'end')]);
    expect(warnings(evs)).toMatchObject([{ rule: 'notnow-not-resent', commandUUIDs: ['UUID-A'] }]);
    expect(warnings(evs)[0].message).toMatch(/InstallProfile/);
  });

  it('notnow-not-resent carries over an interrupted session and stays quiet when the command comes back', () => {
    const d = Device.device();
    const evs = run([
      d.idle(A), d.report('NotNow', 'UUID-A', 'end'),
      d.wait(5000).idle(B), d.report('Acknowledged', 'UUID-B', { kind: 'failed', error: 'connection-reset' }),
      d.wait(5000).idle(A), d.report('Acknowledged', 'UUID-A', 'end'),
    ], { finishAt: d.t + 1000 });
    expect(warnings(evs).filter((w) => w.rule === 'notnow-not-resent')).toEqual([]);
  });

  it('notnow-not-resent waits past a session that ends on NotNow before the command had its turn', () => {
    // A and B queued; the device refuses both, then A alone in a session that ends on NotNow.
    const busy = (d: Device) => [
      d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('NotNow', 'UUID-B', 'end'),
      d.wait(5000).idle(A), d.report('NotNow', 'UUID-A', 'end'),
    ];
    const d = Device.device();
    const delivered = run([...busy(d), d.wait(5000).idle(A), d.report('Acknowledged', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end')]);
    expect(warnings(delivered).filter((w) => w.rule === 'notnow-not-resent')).toEqual([]);
    // The first session the server ends on another status without B is the one that misses it.
    const e = Device.device('UDID-2');
    const forgotten = run([...busy(e), e.wait(5000).idle(A), e.report('Acknowledged', 'UUID-A', 'end')]);
    expect(warnings(forgotten).filter((w) => w.rule === 'notnow-not-resent')).toMatchObject([{ commandUUIDs: ['UUID-B'] }]);
  });

  it('notnow-not-resent forgets refused commands when the enrollment starts over or ends', () => {
    for (const messageType of ['Authenticate', 'CheckOut']) {
      const d = Device.device(`UDID-${messageType}`);
      const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', 'end'), d.checkin(messageType), d.wait(5000).idle(B), d.report('Acknowledged', 'UUID-B', 'end')]);
      expect(warnings(evs).filter((w) => w.rule === 'notnow-not-resent')).toEqual([]);
    }
  });

  it('notnow-unexpected: iOS refusing a never-NotNow command; nothing for macOS', () => {
    const ios = Device.device('IOS-1');
    const info: [string, string] = ['UUID-I', 'DeviceInformation'];
    const evs = run([ios.checkin('Authenticate', { device: { productName: 'iPhone10,3' } }), ios.idle(info), ios.report('NotNow', 'UUID-I', 'end')]);
    expect(warnings(evs)).toMatchObject([{ rule: 'notnow-unexpected', severity: 'info', commandUUIDs: ['UUID-I'] }]);
    expect(of(evs, 'exchange').at(-1)).toMatchObject({ platform: 'iOS', answersRequestType: 'DeviceInformation' });
    const mac = Device.device('MAC-1');
    const evs2 = run([mac.checkin('Authenticate', { device: { model: 'iMac18,3' } }), mac.idle(info), mac.report('NotNow', 'UUID-I', 'end')]);
    expect(warnings(evs2)).toEqual([]);
  });

  it('malformed-body for an undecodable request, with side and offset', () => {
    const d = Device.device();
    const evs = run([d.malformed('request')]);
    expect(warnings(evs)).toMatchObject([{ rule: 'malformed-body', severity: 'info', udid: 'UDID-1', detail: { side: 'request', offset: 120 } }]);
  });
});

describe('time and restarts', () => {
  it('finish() reports open obligations as pending', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end')], { finishAt: d.t + 1000 });
    expect(of(evs, 'obligation').map((o) => o.event)).toEqual(['open', 'pending']);
    expect(warnings(evs)).toEqual([]);
  });

  it('is deterministic, and intermittent advance() calls change nothing', () => {
    const build = () => {
      const d = Device.device();
      const u = d.user();
      return [
        d.tokenUpdate('t'), d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end'),
        u.at(d.t + 50).idle(C), u.report('Acknowledged', 'UUID-C', { kind: 'http-error', httpStatus: 503 }),
        d.at(u.t + GRACE * 2).idle(A), d.report('Acknowledged', 'UUID-A', 'end'),
      ];
    };
    const msgs = build();
    const once = run(msgs, { finishAt: 1_800_000_000_000 });
    expect(run(msgs, { finishAt: 1_800_000_000_000 })).toEqual(once);
    expect(warnings(once).length).toBeGreaterThan(0);
    const an = new Analyzer({ pushGraceMs: GRACE });
    const stepped: AnalyzerEvent[] = [];
    for (const m of msgs) {
      stepped.push(...an.advance(m.ts - 7), ...an.advance(m.ts - 3));
      stepped.push(...an.feed(m));
    }
    stepped.push(...an.finish(1_800_000_000_000));
    expect(stepped).toEqual(once);
  });

  it('restored obligations fire at their original deadline; restored tokens map pushes; restored warnings resolve', () => {
    const an = new Analyzer({ pushGraceMs: GRACE });
    const who = { udid: 'UDID-1', channel: 'device' as const, host: 'mdm.example.com' };
    an.restoreObligation({ sessionId: 's-1', who, openedAt: 1000, deadline: 1000 + GRACE, outcome: 'stranded', commandUUIDs: ['UUID-A'] });
    expect(an.advance(1000 + GRACE - 1)).toEqual([]);
    expect(warnings(an.advance(1000 + GRACE))).toMatchObject([{ rule: 'notnow-no-push', sessionId: 's-1', ts: new Date(1000 + GRACE).toISOString() }]);

    const an2 = new Analyzer({ pushGraceMs: GRACE });
    const p = push(5000, 'tok-r');
    an2.restoreToken(p.tokenHash, who, p.pushMagicHash);
    an2.restoreWarning({ rule: 'notnow-no-push', sessionId: 's-0', who });
    const evs = an2.feedPush(p);
    expect(of(evs, 'push')).toMatchObject([{ udid: 'UDID-1' }]);
    expect(of(evs, 'resolved')).toMatchObject([{ sessionId: 's-0', by: 'push' }]);
  });

  it('a run suspended with other settings judges what it opens with them, and what the run before opened with its own', () => {
    const an = new Analyzer({ pushGraceMs: 60_000 });
    const d1 = Device.device('UDID-1');
    const stranded = (d: Device) => [d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end')];
    const evs = run(stranded(d1), {}, an);
    const restartAt = d1.t + 1000;
    evs.push(...an.suspend(restartAt, { pushGraceMs: 2_000 }));
    expect(an.settings.pushGraceMs).toBe(2_000);
    const d2 = Device.device('UDID-2').at(restartAt + 1000);
    evs.push(...run(stranded(d2), {}, an));
    // Ten seconds on: the second run's obligation is past its 2 s, the first run's is within its 60 s.
    evs.push(...an.advance(d2.t + 10_000));
    expect(warnings(evs).map((w) => `${w.rule} ${w.udid}`)).toEqual(['notnow-no-push UDID-2']);
    expect(of(evs, 'obligation').filter((o) => o.event === 'open').map((o) => Date.parse(o.deadline) - Date.parse(o.ts))).toEqual([60_000, 2_000]);
  });

  it('a token restored as checked out maps its push to the enrollment, which wakes nothing and raises nothing', () => {
    const an = new Analyzer({ pushGraceMs: GRACE });
    const who = { udid: 'UDID-1', channel: 'device' as const, host: 'mdm.example.com' };
    const p = push(5000, 'tok-gone');
    an.restoreToken(p.tokenHash, who, p.pushMagicHash, true);
    const evs = an.feedPush(p);
    expect(of(evs, 'push')).toMatchObject([{ udid: 'UDID-1' }]);
    expect(warnings(evs)).toEqual([]);
  });

  it('session ids are stable across runs and differ per session', () => {
    const mk = () => {
      const d = Device.device();
      return run([d.idle('end'), d.wait(1000).idle('end')]);
    };
    const a = of(mk(), 'session').map((s) => s.sessionId);
    expect(of(mk(), 'session').map((s) => s.sessionId)).toEqual(a);
    expect(new Set(a).size).toBe(2);
  });
});

describe('verdicts that hold on real servers (NanoMDM re-offers, refusals, lost results)', () => {
  it('recovered: every refused command completed later in the session owes nothing and raises nothing', () => {
    const d = Device.device();
    const evs = run(
      [d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', A), d.report('Acknowledged', 'UUID-A', 'end')],
      { finishAt: d.t + 10 * GRACE },
    );
    expect(ends(evs)).toMatchObject([{ outcome: 'recovered', lastStatus: 'Acknowledged', notNowCommands: ['UUID-A'] }]);
    expect(ends(evs)[0].outstanding).toBeUndefined();
    expect(of(evs, 'obligation')).toEqual([]);
    expect(warnings(evs)).toEqual([]);
  });

  it('stranded names only the refused commands still without a final status', () => {
    const d = Device.device();
    const an = new Analyzer({ pushGraceMs: GRACE });
    const evs = run(
      [d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('NotNow', 'UUID-B', C), d.report('Acknowledged', 'UUID-C', A), d.report('Acknowledged', 'UUID-A', 'end')],
      { finishAt: d.t + GRACE },
      an,
    );
    expect(ends(evs)).toMatchObject([{ outcome: 'stranded', notNowCommands: ['UUID-A', 'UUID-B'], outstanding: ['UUID-B'] }]);
    expect(warnings(evs)).toMatchObject([{ rule: 'notnow-no-push', commandUUIDs: ['UUID-B'] }]);
    expect(warnings(evs)[0].message).toMatch(/DeviceInformation/);
    expect(warnings(evs)[0].message).not.toMatch(/InstallProfile/);
  });

  it('a final status the server did not take (5xx) does not complete the refused command', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', A), d.report('Acknowledged', 'UUID-A', { kind: 'http-error', httpStatus: 503 })], {
      finishAt: d.t + GRACE,
    });
    expect(ends(evs)).toMatchObject([{ outcome: 'interrupted', reason: 'http-error' }]);
    expect(warnings(evs).map((w) => w.rule)).toEqual(['interrupted-no-push']);
  });

  it('a report the server refuses (4xx) ends the session as rejected, opens no obligation and raises device-rejected once', () => {
    const d = Device.device();
    const evs = run(
      [
        d.idle(A), d.report('NotNow', 'UUID-A', B),
        d.report('Acknowledged', 'UUID-B', { kind: 'http-error', httpStatus: 401 }),
        d.wait(1000).idle({ kind: 'http-error', httpStatus: 401 }),
      ],
      { finishAt: d.t + 10 * GRACE },
    );
    // The refused Idle's attempt is recorded as a session of its own, ended the same way.
    expect(ends(evs)).toMatchObject([
      { outcome: 'interrupted', reason: 'rejected', detail: expect.stringMatching(/401/), exchanges: 3 },
      { outcome: 'interrupted', reason: 'rejected', exchanges: 1 },
    ]);
    expect(of(evs, 'obligation')).toEqual([]);
    expect(warnings(evs)).toMatchObject([{ rule: 'device-rejected', severity: 'info', detail: { httpStatus: 401 } }]);
    expect(of(evs, 'exchange').at(-1)).toMatchObject({ status: 'Idle', reply: 'http-error', httpStatus: 401, sessionId: ends(evs)[1].sessionId });
  });

  it('device-rejected resolves when the server takes the channel again', () => {
    const d = Device.device();
    const evs = run([d.idle({ kind: 'http-error', httpStatus: 403 }), d.wait(1000).idle('end')]);
    const w = warnings(evs);
    expect(w.map((x) => x.rule)).toEqual(['device-rejected']);
    expect(of(evs, 'resolved')).toMatchObject([{ rule: 'device-rejected', warningId: w[0].warningId, by: 'accepted' }]);
  });

  it('a refused report naming a device cannot silence what is owed to it, and a refused TokenUpdate maps no token', () => {
    const d = Device.device();
    const forged = Device.device();
    const evs = run(
      [
        d.tokenUpdate('real'), ...[d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end')],
        forged.at(d.t + 1000).idle({ kind: 'http-error', httpStatus: 401 }),
        { ...forged.tokenUpdate('attacker'), httpStatus: 401 },
        push(d.t + 2000, 'attacker'),
      ],
      { finishAt: d.t + GRACE + 5000 },
    );
    expect(of(evs, 'obligation').map((o) => o.event)).toEqual(['open']);
    expect(warnings(evs).map((w) => w.rule)).toEqual(['device-rejected', 'push-unknown-token', 'notnow-no-push']);
    // Nor does it count as the device coming back after a NotNow.
    const e = Device.device('UDID-2');
    const back = run([e.idle(A), e.report('NotNow', 'UUID-A', 'end'), e.wait(1000).idle({ kind: 'http-error', httpStatus: 401 }), e.wait(1000).idle('end')]);
    expect(of(back, 'session').filter((x) => x.event === 'start').map((x) => x.sinceNotNowMs)).toEqual([undefined, undefined, 2 * (1000 + 100)]);
  });

  it('command-redelivered: the server sends a command again after its final status (it lost the result)', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('Acknowledged', 'UUID-A', 'end'), d.wait(5000).idle(A), d.report('Acknowledged', 'UUID-A', 'end')]);
    expect(warnings(evs)).toMatchObject([{ rule: 'command-redelivered', severity: 'warning', commandUUIDs: ['UUID-A'], detail: { finalStatus: 'Acknowledged', requestType: 'InstallProfile' } }]);
    // In the same session too, and after Error.
    const e = Device.device('UDID-2');
    const same = run([e.idle(A), e.report('Error', 'UUID-A', A), e.report('Error', 'UUID-A', 'end')]);
    expect(warnings(same).map((w) => w.rule)).toEqual(['command-redelivered']);
  });

  it('command-redelivered stays quiet when the server never took the final status (5xx, failed exchange)', () => {
    const d = Device.device();
    const evs = run([
      d.idle(A), d.report('Acknowledged', 'UUID-A', { kind: 'http-error', httpStatus: 500 }),
      d.wait(5000).idle(A), d.report('Acknowledged', 'UUID-A', 'end'),
    ], { finishAt: d.t + 1000 });
    expect(warnings(evs).filter((w) => w.rule === 'command-redelivered')).toEqual([]);
  });
});

describe('Shared iPad', () => {
  it('each user (keyed by short name) has sessions of its own, and events name the user', () => {
    const d = Device.device('SHARED-IPAD');
    const ann = new Device({ udid: 'SHARED-IPAD', channel: 'user', userId: 'ann@school', userShortName: 'ann@school' }, d.t);
    const bob = new Device({ udid: 'SHARED-IPAD', channel: 'user', userId: 'bob@school', userShortName: 'bob@school' }, d.t);
    const evs = run([ann.idle(A), bob.at(ann.t + 1).idle(B), ann.report('NotNow', 'UUID-A', 'end'), bob.report('Acknowledged', 'UUID-B', 'end')]);
    expect(ends(evs)).toMatchObject([
      { userId: 'ann@school', userShortName: 'ann@school', outcome: 'ended-on-notnow' },
      { userId: 'bob@school', userShortName: 'bob@school', outcome: 'clean' },
    ]);
  });
});

describe('pushes that wake nothing, devices that do not come back', () => {
  const WAKE = 300_000;

  it('push-no-checkin: a push that draws no session within --push-wake; resolved when the device comes', () => {
    const d = Device.device();
    const an = new Analyzer({ pushGraceMs: GRACE, pushWakeMs: WAKE });
    const evs = run([d.tokenUpdate('tok'), push(d.t + 1000, 'tok', { pushMagic: 'magic-tok' })], {}, an);
    expect(warnings(evs)).toEqual([]);
    expect(warnings(an.advance(d.t + 1000 + WAKE - 1))).toEqual([]);
    const raised = warnings(an.advance(d.t + 1000 + WAKE));
    expect(raised).toMatchObject([{ rule: 'push-no-checkin', severity: 'info', ts: new Date(d.t + 1000 + WAKE).toISOString(), detail: { pushes: 1 } }]);
    const later = run([d.at(d.t + 2 * WAKE).idle('end')], {}, an);
    expect(of(later, 'resolved')).toMatchObject([{ rule: 'push-no-checkin', warningId: raised[0].warningId, by: 'device-returned' }]);
    expect(of(later, 'session')[0]).toMatchObject({ event: 'start', sincePushMs: 2 * WAKE - 1000 + 100 });
  });

  it('a push answered within the window: no finding, and the session says how long the device took', () => {
    const d = Device.device();
    const evs = run([d.tokenUpdate('tok'), push(d.t + 1000, 'tok', { pushMagic: 'magic-tok' }), d.at(d.t + 4000).idle('end')], { finishAt: d.t + 10 * WAKE });
    expect(warnings(evs)).toEqual([]);
    expect(of(evs, 'session')[0]).toMatchObject({ event: 'start', sincePushMs: 3100 });
    // Rejected pushes and pushes with the wrong PushMagic cannot wake a device: they are not waited for.
    const e = Device.device('UDID-2');
    const bad = run([e.tokenUpdate('t2'), push(e.t + 1, 't2', { apnsStatus: 410 }), push(e.t + 2, 't2', { pushMagic: 'wrong' })], { finishAt: e.t + 10 * WAKE });
    expect(warnings(bad).map((w) => w.rule)).toEqual(['push-rejected', 'push-magic-mismatch']);
  });

  it('notnow-no-return: a session ended on NotNow and the device stayed away past --return-window', () => {
    const d = Device.device();
    const an = new Analyzer({ pushGraceMs: GRACE, returnWindowMs: 3_600_000 });
    run([d.idle(A), d.report('NotNow', 'UUID-A', 'end')], {}, an);
    const end = d.t;
    expect(warnings(an.advance(end + 3_600_000 - 1))).toEqual([]);
    const raised = warnings(an.advance(end + 3_600_000));
    expect(raised).toMatchObject([{ rule: 'notnow-no-return', severity: 'info' }]);
    const back = run([d.at(end + 4_000_000).idle(A), d.report('Acknowledged', 'UUID-A', 'end')], {}, an);
    expect(of(back, 'session')[0]).toMatchObject({ event: 'start', sinceNotNowMs: 4_000_100 });
    expect(of(back, 'resolved')).toMatchObject([{ rule: 'notnow-no-return', warningId: raised[0].warningId }]);
  });

  it('a device coming back after NotNow within the window raises nothing and records how long it took', () => {
    const d = Device.device();
    const evs = run([d.idle(A), d.report('NotNow', 'UUID-A', 'end'), d.wait(42_000).idle(A), d.report('Acknowledged', 'UUID-A', 'end')], { finishAt: d.t + 3 * 3_600_000 });
    expect(warnings(evs)).toEqual([]);
    expect(of(evs, 'session').filter((e) => e.event === 'start')[1]).toMatchObject({ sinceNotNowMs: 42_100 });
  });

  it('finish() lists the sessions still open, and warning ids are the same on every replay', () => {
    const d = Device.device();
    const msgs = [d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end'), d.wait(1000).idle(A)];
    const evs = run(msgs, { finishAt: d.t + 10 });
    expect(of(evs, 'session').filter((e) => e.event === 'pending')).toMatchObject([{ lastStatus: 'Idle', exchanges: 1 }]);
    const a = run(msgs, { finishAt: d.t + 10 * GRACE });
    const b = run(msgs, { finishAt: d.t + 10 * GRACE });
    expect(warnings(a).map((w) => w.warningId)).toEqual(warnings(b).map((w) => w.warningId));
    expect(new Set(warnings(a).map((w) => w.warningId)).size).toBe(warnings(a).length);
  });
});
