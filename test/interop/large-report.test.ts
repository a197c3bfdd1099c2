/**
 * A report far larger than mdmtap's --max-body: NanoMDM must receive every byte (in Mdm-Signature mode its
 * signature check proves it), and mdmtap must still tell whose report it is and how the session ended, although
 * Apple's sorted keys put `Status` and `UDID` after the multi-megabyte InstalledApplicationList.
 */
import { describe, expect, it } from 'vitest';
import { labPerTest } from './helpers/lab-per-test.js';
import { command } from './helpers/commands.js';
import { transcript } from './helpers/transcript.js';
import { obligations, sessionEnds, warnings } from './helpers/verdicts.js';
import type { ExchangeEvent } from '../../src/model/events.js';

const newLab = labPerTest();
const MAX_BODY = 64 * 1024;

/** An InstalledApplicationList result as an iPhone reports it, `count` apps long. */
function installedApps(count: number): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => ({
    BundleSize: 48_000_000 + i,
    DynamicSize: 1_200_000 + i,
    ExternalVersionIdentifier: 860_000_000 + i,
    Identifier: `com.example.interop.app${i}`,
    Installing: false,
    IsValidated: true,
    Name: `Interop App ${i}`,
    ShortVersion: `${1 + (i % 9)}.${i % 17}.${i % 5}`,
    Version: String(1000 + i),
  }));
}

describe.each(['signature', 'tls'] as const)('identity by %s', (mode) => {
  it('an Acknowledged InstalledApplicationList of 1+ MB over a 64 KiB --max-body: byte-exact, attributed, clean', async () => {
    // A short session timeout, so a session mdmtap loses track of ends (as interrupted) within the test.
    const lab = await newLab({ mode, maxBody: String(MAX_BODY), mdmtapArgs: ['--session-timeout', '5s'] });
    const device = lab.device();
    await device.enrol();
    const ial = command('InstalledApplicationList');
    await lab.nanomdm.enqueue([device.udid], ial);

    const apps = installedApps(3200);
    const t = transcript(await device.session(() => ({ status: 'Acknowledged', extra: { InstalledApplicationList: apps } })));
    // Keys sorted as Apple writes them: CommandUUID, InstalledApplicationList, Status, UDID.
    const report = device.sent.at(-1)!.body;
    expect(report.length).toBeGreaterThan(1024 * 1024);
    expect(report.indexOf('<key>InstalledApplicationList</key>')).toBeLessThan(MAX_BODY);
    expect(report.indexOf('<key>Status</key>')).toBeGreaterThan(MAX_BODY);
    expect(report.indexOf('<key>UDID</key>')).toBeGreaterThan(MAX_BODY);
    // NanoMDM accepted it (200 and the end of the session): in signature mode, the signature over all its bytes held.
    expect(t.line).toBe('Idle→A, Acknowledged(A)→end');

    await lab.mdmtap.waitEvent((e) => e.type === 'session' && e.event === 'end', 'session end', 15_000);
    expect(await lab.stopMdmtap()).toBe(0);
    const events = lab.mdmtap.events();
    const big = events.filter((e): e is ExchangeEvent => e.type === 'exchange' && e.endpoint === 'command' && e.status !== 'Idle');
    expect(big.map((e) => ({ udid: e.udid, status: e.status, commandUUID: e.commandUUID, reply: e.reply }))).toEqual([
      { udid: device.udid, status: 'Acknowledged', commandUUID: ial.CommandUUID, reply: 'end' },
    ]);
    expect(events.filter((e) => 'udid' in e && e.udid !== device.udid)).toEqual([]);
    expect(sessionEnds(events).map((e) => ({ udid: e.udid, outcome: e.outcome }))).toEqual([{ udid: device.udid, outcome: 'clean' }]);
    expect(obligations(events)).toEqual([]);
    expect(warnings(events).filter((w) => w.severity === 'warning')).toEqual([]);
  });
});
