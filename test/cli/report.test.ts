import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/cli/report.js';
import type { AnalyzerEvent, ExchangeEvent } from '../../src/model/events.js';

let n = 0;
function exchange(fields: Partial<ExchangeEvent>): ExchangeEvent {
  n++;
  return { type: 'exchange', ts: `2026-11-25T10:00:${String(n).padStart(2, '0')}.000Z`, exchangeId: `x${n}`, endpoint: 'command', httpStatus: 200, udid: 'MAC-1', channel: 'device', platform: 'macOS', ...fields };
}

describe('the analyze report', () => {
  it('tallies each command sent and what devices answered, and says where Apple rules a command out', () => {
    const events: AnalyzerEvent[] = [
      exchange({ status: 'Idle', replyCommandUUID: 'a', requestType: 'DeviceLock' }),
      exchange({ status: 'NotNow', commandUUID: 'a', answersRequestType: 'DeviceLock', replyCommandUUID: 'a', requestType: 'DeviceLock' }),
      exchange({ status: 'Acknowledged', commandUUID: 'a', answersRequestType: 'DeviceLock', reply: 'end' }),
      // The user channel of the same Mac: DeviceLock is for the device channel only.
      exchange({ channel: 'user', userId: 'U1', status: 'Idle', replyCommandUUID: 'b', requestType: 'DeviceLock' }),
      exchange({ channel: 'user', userId: 'U1', status: 'Error', commandUUID: 'b', answersRequestType: 'DeviceLock', reply: 'end' }),
      // A vendor's own command, and one whose platform is unknown: nothing is claimed about either.
      exchange({ status: 'Idle', replyCommandUUID: 'c', requestType: 'AcmeInventory' }),
      exchange({ udid: 'UNKNOWN-1', platform: undefined, channel: 'user', status: 'Idle', replyCommandUUID: 'd', requestType: 'DeviceLock' }),
    ];
    const text = renderReport({ events, files: [{ name: 'x.har', format: 'har', exchanges: events.length }], pushGraceMs: 120_000, pushesObserved: false });
    const section = text.slice(text.indexOf('Commands'), text.indexOf('Summary'));
    expect(section).toBe(
      [
        'Commands (sent, and what devices answered):',
        '  DeviceLock ×4: 1 NotNow, 1 Acknowledged, 1 Error',
        "    ! Apple's schema does not support DeviceLock on the user channel of macOS (sent there 1 time; Apple: iOS 4.0+, macOS 10.7+ (device channel), visionOS 2.0+, watchOS 10.0+)",
        "  AcmeInventory ×1 (not in mdmtap's copy of Apple's schemas)",
        '',
        '',
      ].join('\n'),
    );
  });
});
