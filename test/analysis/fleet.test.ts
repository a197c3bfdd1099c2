import { describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/analysis/analyzer.js';
import { Fleet, channelKey } from '../../src/analysis/fleet.js';
import type { AnalyzerEvent } from '../../src/model/events.js';
import type { MdmMessage, PushSeen } from '../../src/model/message.js';
import { Device, push } from '../helpers/messages.js';
import { rng } from '../helpers/rng.js';

const GRACE = 120_000;

/** Feeds messages and pushes through a real Analyzer into a Fleet, moving analyzer time to each item's. */
function rig() {
  const an = new Analyzer({ pushGraceMs: GRACE });
  const fleet = new Fleet();
  const apply = (evs: AnalyzerEvent[]) => evs.forEach((e) => fleet.apply(e));
  return {
    an,
    fleet,
    feed: (...items: Array<MdmMessage | PushSeen>) => items.forEach((it) => apply('endpoint' in it ? an.feed(it) : an.feedPush(it))),
    advance: (t: number) => apply(an.advance(t)),
    finish: (t: number) => apply(an.finish(t)),
  };
}

const stateOf = (fleet: Fleet, d: Device) => fleet.get(channelKey({ ...d.identity, host: d.host }))?.state;

describe('the fleet model (one state per device channel, from the analyzer events)', () => {
  it('follows a stranded session: in session → push owed → stranded at the deadline → idle when the push comes', () => {
    const r = rig();
    const d = Device.device('MAC-1');
    r.feed(d.tokenUpdate(), d.idle(['A', 'InstallProfile']));
    expect(stateOf(r.fleet, d)).toBe('in session');
    r.feed(d.report('NotNow', 'A', ['B', 'DeviceLock']), d.report('Acknowledged', 'B', 'end'));
    const c = r.fleet.get(channelKey({ ...d.identity, host: d.host }))!;
    expect(c).toMatchObject({ state: 'push owed', lastStatus: 'Acknowledged', lastOutcome: 'stranded', notNow: 1, sessions: 1, exchanges: 4 });
    expect(c.deadline).toBe(d.t + GRACE);
    expect(r.fleet.counters()).toMatchObject({ pushOwed: 1, stranded: 0, openWarnings: 0 });
    r.advance(d.t + GRACE + 1);
    expect(stateOf(r.fleet, d)).toBe('stranded');
    expect(r.fleet.counters()).toMatchObject({ pushOwed: 0, stranded: 1, openWarnings: 1, raised: 1 });
    r.feed(push(d.t + GRACE + 5000, `token-of-MAC-1-device`));
    expect(stateOf(r.fleet, d)).toBe('idle');
    expect(r.fleet.counters()).toMatchObject({ pushOwed: 0, stranded: 0, openWarnings: 0, raised: 1 });
  });

  it('a session that ended on NotNow leaves the channel waiting for its own poll; its return puts it in session', () => {
    const r = rig();
    const d = Device.device('IPAD-1');
    r.feed(d.idle(['A', 'InstallProfile']), d.report('NotNow', 'A', 'end'));
    expect(stateOf(r.fleet, d)).toBe('will poll');
    r.feed(d.wait(60_000).idle('end'));
    expect(stateOf(r.fleet, d)).toBe('idle');
  });

  it('counts devices apart from channels: a Mac and its user channel are one device, two channels', () => {
    const r = rig();
    const d = Device.device('MAC-2');
    r.feed(d.idle('end'), d.user('U1').idle('end'));
    expect(r.fleet.counters()).toMatchObject({ devices: 1, channels: 2, sessions: 2 });
  });

  it('agrees with the analyzer itself over a long random run: sessions open and pushes owed, at every step', () => {
    const r = rig();
    const random = rng(20261128);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
    const devices = Array.from({ length: 12 }, (_, i) => Device.device(`DEV-${i}`));
    const users = devices.slice(0, 4).map((d) => d.user('U'));
    const all = [...devices, ...users];
    let t = all[0].t;
    for (const d of all) r.feed(d.at(t).tokenUpdate());
    const checks = { owed: 0, stranded: 0, inSession: 0 };
    for (let step = 0; step < 3000; step++) {
      t += Math.floor(random() * 20_000);
      const d = pick(all).at(t);
      const roll = random();
      const cmd: [string, string] = [`C-${step}`, pick(['InstallProfile', 'DeviceLock', 'ProfileList', 'Settings'])];
      if (roll < 0.25) r.feed(d.idle(random() < 0.7 ? cmd : 'end'));
      else if (roll < 0.7) r.feed(d.report(pick(['Acknowledged', 'NotNow', 'NotNow', 'Error']), `C-${step - 1}`, random() < 0.5 ? cmd : 'end'));
      else if (roll < 0.78) r.feed(d.report('Acknowledged', 'X', { kind: 'http-error', httpStatus: 500 }));
      else if (roll < 0.9) r.feed(push(t, `token-of-${d.identity.udid}-${d.identity.channel}`));
      else r.advance(t);
      const stats = r.an.stats();
      const counters = r.fleet.counters();
      const inSession = [...r.fleet.all()].filter((c) => c.state === 'in session').length;
      expect(inSession, `step ${step}`).toBe(stats.openSessions);
      expect(counters.pushOwed, `step ${step}`).toBe(stats.openObligations);
      checks.owed += counters.pushOwed ? 1 : 0;
      checks.stranded += counters.stranded ? 1 : 0;
      checks.inSession += inSession ? 1 : 0;
    }
    // The run went through every state worth checking.
    expect(checks.owed).toBeGreaterThan(100);
    expect(checks.stranded).toBeGreaterThan(100);
    expect(checks.inSession).toBeGreaterThan(100);
  });
});
