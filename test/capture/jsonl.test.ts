import { describe, expect, it } from 'vitest';
import { Analyzer } from '../../src/analysis/analyzer.js';
import { readJsonlLine } from '../../src/capture/jsonl.js';
import type { AnalyzerEvent } from '../../src/model/events.js';
import type { MdmMessage, PushSeen } from '../../src/model/message.js';
import { Device, push } from '../helpers/messages.js';

const GRACE = 120_000;

/** What the analyzer says of `items`, live, and again from the JSON lines it printed. */
function liveAndReplayed(items: Array<MdmMessage | PushSeen>, finishAt: number): { live: AnalyzerEvent[]; replayed: AnalyzerEvent[] } {
  const an = new Analyzer({ pushGraceMs: GRACE });
  const live: AnalyzerEvent[] = [];
  for (const it of items) live.push(...('endpoint' in it ? an.feed(it) : an.feedPush(it)));
  live.push(...an.finish(finishAt));
  const again = new Analyzer({ pushGraceMs: GRACE });
  const replayed: AnalyzerEvent[] = [];
  live.forEach((ev, i) => {
    const line = readJsonlLine(JSON.stringify(ev), `line ${i + 1}`);
    if (line.kind !== 'item') return;
    const item = line.item;
    if (item.kind === 'push') replayed.push(...again.feedPush(item.push));
    else if (item.kind === 'message') replayed.push(...again.feed(item.message));
  });
  replayed.push(...again.finish(finishAt));
  return { live, replayed };
}

const rules = (evs: AnalyzerEvent[]) => evs.flatMap((e) => (e.type === 'warning' ? [e.rule] : []));

describe('JSON lines replay', () => {
  it('judges a push with the wrong PushMagic as live did: it wakes nothing, the stranded command is still owed a push', () => {
    const d = Device.device();
    const A: [string, string] = ['UUID-A', 'InstallProfile'];
    const B: [string, string] = ['UUID-B', 'DeviceInformation'];
    const items = [
      d.tokenUpdate('tok-1', 'magic-1'),
      d.idle(A), d.report('NotNow', 'UUID-A', B), d.report('Acknowledged', 'UUID-B', 'end'),
      push(d.t + 1000, 'tok-1', { pushMagic: 'magic-other' }),
    ];
    const { live, replayed } = liveAndReplayed(items, d.t + 10 * GRACE);
    expect(rules(live)).toEqual(['push-magic-mismatch', 'notnow-no-push']);
    expect(rules(replayed)).toEqual(rules(live));
    // And with the right PushMagic, both discharge the obligation.
    const e = Device.device('UDID-2');
    const good = liveAndReplayed([e.tokenUpdate('tok-2', 'magic-2'), e.idle(A), e.report('NotNow', 'UUID-A', B), e.report('Acknowledged', 'UUID-B', 'end'), push(e.t + 1000, 'tok-2', { pushMagic: 'magic-2' })], e.t + 10 * GRACE);
    expect(rules(good.replayed)).toEqual(rules(good.live));
    expect(rules(good.live)).not.toContain('notnow-no-push');
  });
});
