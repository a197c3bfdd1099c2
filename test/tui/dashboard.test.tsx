import { afterEach, describe, expect, it } from 'vitest';
import React from 'react';
import { render, cleanup } from 'ink-testing-library';
import { App } from '../../tui/app.js';
import { checkin, commandBody, idle, status, UDID } from '../helpers/mdm-bodies.js';
import { fixture } from '../helpers/fixtures.js';
import { dashboardRig, KEY, press, strip, until } from '../helpers/dashboard-rig.js';
import * as plist from 'plist';
import { sha256Hex } from '../../src/mdm/hash.js';

afterEach(() => cleanup());

describe('dashboard', () => {
  it('renders the header counters and device rows from the store', async () => {
    const r = dashboardRig();
    r.feed(r.ex(checkin('Authenticate', { ProductName: 'iPhone14,2', OSVersion: '18.1' })));
    r.strand();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('sessions 1'), 'counters');
    expect(f).toMatch(/devices 1\s+sessions 1\s+exchanges 4/);
    expect(f).toContain('push owed 1');
    expect(f).toContain('iPhone14,2 18.1');
    expect(f).toMatch(/push owed \d+m/);
    expect(f).toContain('pushes not observable');
    expect(f).toContain('AB:CD:EF:01…');
  });

  it('shows control characters a device sends as \\xNN: a UDID cannot retitle or redraw the terminal', async () => {
    const r = dashboardRig();
    // Character references decode to ESC and BEL: an OSC title sequence, then a line erase.
    r.strand('EVIL&#27;]0;PWNED&#7;&#27;[2K');
    const ui = render(<App store={r.store} onQuit={() => {}} columns={120} rows={30} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('EVIL'), 'the device row');
    expect(ui.frames.join('')).not.toMatch(/\u001b\]0;|\u0007/);
    expect(f).toContain('EVIL\\x1b]0;PWNED');
    // The --plain lines say the same.
    const lines: string[] = [];
    const { consoleSink } = await import('../../src/sinks/console.js');
    const sink = consoleSink({ write: (t: string) => lines.push(t) } as unknown as NodeJS.WritableStream as never);
    sink.event({ type: 'warning', ts: new Date().toISOString(), udid: 'EVIL\u001b]0;PWNED\u0007', channel: 'device', warningId: 'w', rule: 'notnow-no-push', severity: 'warning', message: 'm' });
    expect(lines.join('')).toContain('EVIL\\x1b]0;PWNED\\x07');
    expect(lines.join('')).not.toContain('\u001b');
  });

  it('shows a warning when the analyzer raises it, and marks it resolved when the device returns', async () => {
    const r = dashboardRig();
    r.strand();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={120} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('none yet'), 'no warnings');
    r.advance(61_000);
    r.store.flushNow();
    let f = await until(ui.lastFrame, (x) => x.includes('notnow-no-push'), 'the warning');
    expect(f).toMatch(/! notnow-no-push/);
    expect(f).toContain('stranded');
    r.feed(r.ex(idle(), commandBody('A-1', 'InstallProfile')), r.ex(status('Acknowledged', 'A-1')));
    r.store.flushNow();
    f = await until(ui.lastFrame, (x) => x.includes('resolved by device-returned'), 'the resolution');
    expect(f).toMatch(/✓ notnow-no-push/);
  });

  it('a Shared iPad shows one row per user, by short name, and a recovered session says so in the timeline', async () => {
    const r = dashboardRig();
    const allF = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';
    for (const name of ['ann@school', 'bob@school']) r.feed(r.ex(idle({ UserID: allF, UserShortName: name }), Buffer.alloc(0)));
    // NanoMDM's way: the refused command comes back after another one and is completed in the same session.
    r.feed(
      r.ex(idle(), commandBody('A-1', 'InstallProfile')),
      r.ex(status('NotNow', 'A-1'), commandBody('B-2', 'ProfileList')),
      r.ex(status('Acknowledged', 'B-2'), commandBody('A-1', 'InstallProfile')),
      r.ex(status('Acknowledged', 'A-1')),
    );
    const ui = render(<App store={r.store} onQuit={() => {}} columns={120} rows={30} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('user bob@school'), 'the user rows');
    expect(f).toContain('user ann@school');
    expect(f).toMatch(/Devices \(3\)/);
    expect(f).not.toContain('push owed 1');
    const device = r.store.getSnapshot().devices.find((d) => d.channel === 'device')!;
    expect(r.store.timelineOf(device.key).map((e) => e.text)).toContain('session ended recovered (refused, then completed)');
  });

  it('moves with ↑/↓ and j/k, opens a device timeline with Enter and goes back with Esc', async () => {
    const r = dashboardRig();
    r.strand('DEVICE-AAAA');
    r.strand('DEVICE-BBBB');
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('DEVICE-BBBB'), 'rows');
    await press(ui, 'j');
    await press(ui, KEY.up);
    await press(ui, KEY.down);
    await press(ui, KEY.enter);
    let f = await until(ui.lastFrame, (x) => x.includes('Enter: exchange detail'), 'the timeline');
    // Sorted by last seen, newest first: one down is the older device.
    expect(f).toContain('DEVICE-AAAA · device');
    expect(f).toContain('session ended STRANDED');
    expect(f).toContain('push owed by');
    await press(ui, KEY.esc);
    f = await until(ui.lastFrame, (x) => x.includes('Devices (2)'), 'the main view');
  });

  it('the row shown selected on the first frame stays selected when a newer device sorts above it', async () => {
    const r = dashboardRig();
    r.poll('DEVICE-FIRST');
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('› DEVICE-FIRST'), 'the first device selected');
    r.advance(2000);
    r.poll('DEVICE-NEWER');
    await until(ui.lastFrame, (x) => /DEVICE-NEWER[\s\S]*DEVICE-FIRST/.test(x), 'the newer device above');
    await press(ui, KEY.enter);
    const f = await until(ui.lastFrame, (x) => x.includes('Enter: exchange detail'), 'the timeline');
    expect(f).toContain('DEVICE-FIRST · device');
  });

  it('the timeline keeps its selected entry while the oldest entries age out', async () => {
    const r = dashboardRig();
    // Two seconds apart, so each exchange's time names it in the detail view.
    const poll = () => {
      r.advance(2000);
      r.poll('DEVICE-TTTT');
    };
    for (let i = 0; i < 70; i++) poll();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('DEVICE-TTTT'), 'the row');
    await press(ui, KEY.enter);
    await until(ui.lastFrame, (x) => x.includes('Enter: exchange detail'), 'the timeline');
    // Up to an exchange a few entries back (sessions' start and end lines have no detail to open).
    const entries = r.store.timelineOf([...r.store.getSnapshot().devices][0].key);
    let at = entries.length - 4;
    while (!entries[at].exchangeId) at--;
    const chosen = entries[at];
    await press(ui, ...Array.from({ length: entries.length - 1 - at }, () => KEY.up));
    // More polls than the timeline holds: every entry that was there when the choice was made ages out but this one.
    for (let i = 0; i < 40; i++) poll();
    await press(ui, KEY.enter);
    const f = await until(ui.lastFrame, (x) => x.includes('Exchange detail'), 'the detail view');
    expect(chosen.exchangeId).toBeDefined();
    expect(f).toContain(`(${new Date(chosen.ts).toISOString().slice(11, 19)})`);
  });

  it('shows an exchange decoded and redacted: the Token is a tag, never the raw value', async () => {
    const r = dashboardRig();
    const tu = fixture('nanomdm/TokenUpdate.1.plist');
    const raw = plist.parse(tu.toString()) as { Token: Uint8Array; PushMagic: string };
    r.feed({ ...r.ex(tu), requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm-checkin', 'mdm-signature': 'SIGNATURE-VALUE' } });
    const ui = render(<App store={r.store} onQuit={() => {}} columns={120} rows={40} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('TokenUpdate'), 'the log line');
    await press(ui, KEY.tab);
    await press(ui, KEY.enter);
    const f = await until(ui.lastFrame, (x) => x.includes('Exchange detail'), 'the detail view');
    expect(f).toMatch(/Token: "<redacted:[0-9a-f]{8}>"/);
    expect(f).toMatch(/PushMagic: "<redacted:[0-9a-f]{8}>"/);
    expect(f).not.toContain(Buffer.from(raw.Token).toString('base64').slice(0, 16));
    expect(f).not.toContain(raw.PushMagic);
    expect(f).toMatch(/mdm-signature: <redacted:/);
    expect(f).not.toContain('SIGNATURE-VALUE');
  });

  it("an exchange's command shows its title, where Apple supports it, and where Apple's schema rules it out", async () => {
    const r = dashboardRig();
    const user = { UserID: 'A0000000-0000-0000-0000-00000000000A', UserLongName: 'Ann', UserShortName: 'ann' };
    // A Mac (its Authenticate says so), then its user channel sent DeviceLock, which Apple allows on the device channel only.
    r.feed({ ...r.ex(checkin('Authenticate', { Model: 'MacBookPro18,3', ProductName: 'MacBookPro18,3', SerialNumber: 'C02X' })), requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm-checkin' } });
    r.feed(r.ex(idle(user), commandBody('L-1', 'DeviceLock')), r.ex(status('Error', 'L-1', user), commandBody('P-1', 'ProfileList')));
    const ui = render(<App store={r.store} onQuit={() => {}} columns={160} rows={40} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('DeviceLock'), 'the log line');
    await press(ui, KEY.tab);
    // The log's selection counts back from its newest line: one up (k) is the exchange that carried DeviceLock.
    await press(ui, 'k');
    await press(ui, KEY.enter);
    const f = await until(ui.lastFrame, (x) => x.includes('Exchange detail'), 'the detail view');
    expect(f).toContain('command: DeviceLock (Device Lock Command)');
    expect(f).toContain('Apple supports it on iOS 4.0+, macOS 10.7+ (device channel), visionOS 2.0+, watchOS 10.0+');
    expect(f).toContain("! Apple's schema does not support DeviceLock on the user channel of macOS");
    await press(ui, KEY.esc);
    await until(ui.lastFrame, (x) => x.includes('Devices (2)'), 'the main view');
    await press(ui, 'j', KEY.enter);
    const g = await until(ui.lastFrame, (x) => x.includes('command: ProfileList'), 'the next detail view');
    expect(g).toContain('command: ProfileList (Profile List Command)');
    expect(g).not.toContain("Apple's schema does not support");
  });

  it('filters with /, shows warnings only with w and shows help with ?', async () => {
    const r = dashboardRig();
    r.strand('DEVICE-AAAA');
    r.feed(r.ex(idle(), Buffer.alloc(0), 'DEVICE-QUIET'));
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('Devices (2)'), 'two devices');
    await press(ui, '/');
    await press(ui, ...'quiet');
    await press(ui, KEY.enter);
    let f = await until(ui.lastFrame, (x) => x.includes('Devices (1)'), 'the filter');
    expect(f).toContain('DEVICE-QUIET');
    expect(f).not.toContain('DEVICE-AAAA');
    expect(f).toContain('filter "quiet"');
    await press(ui, KEY.esc);
    await until(ui.lastFrame, (x) => x.includes('Devices (2)'), 'the filter cleared');
    await press(ui, 'w');
    f = await until(ui.lastFrame, (x) => x.includes('Devices (1)'), 'warnings only');
    expect(f).toContain('DEVICE-AAAA');
    expect(f).not.toContain('DEVICE-QUIET');
    await press(ui, 'w');
    await until(ui.lastFrame, (x) => x.includes('Devices (2)'), 'all devices again');
    await press(ui, '?');
    f = await until(ui.lastFrame, (x) => x.includes('Keys'), 'help');
    expect(f).toContain('warnings only');
  });

  it('p freezes the display while traffic keeps coming, and p again shows what came meanwhile', async () => {
    const r = dashboardRig();
    r.strand('DEVICE-AAAA');
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    // The same store in a second dashboard that is never paused: it shows when the new traffic has been drawn.
    const control = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('Devices (1)'), 'one device');
    await press(ui, 'p');
    const frozen = await until(ui.lastFrame, (x) => x.includes('PAUSED'), 'paused');
    expect(frozen).toMatch(/devices 1\s+sessions 1\s+exchanges 3/);

    r.feed(r.ex(idle(), Buffer.alloc(0), 'DEVICE-LATER'));
    r.store.flushNow();
    await until(control.lastFrame, (x) => x.includes('DEVICE-LATER'), 'the new device in the unpaused dashboard');
    // Make the paused dashboard draw again (help, and back): each frame is drawn from its state as it now is.
    const drawn = ui.frames.length;
    await press(ui, '?');
    await until(ui.lastFrame, (x) => x.includes('Keys'), 'help');
    await press(ui, '?');
    const again = await until(ui.lastFrame, (x) => x.includes('Devices ('), 'the main view again');
    expect(ui.frames.length).toBeGreaterThan(drawn + 1);
    expect(again).toBe(frozen);

    await press(ui, 'p');
    const resumed = await until(ui.lastFrame, (x) => x.includes('DEVICE-LATER'), 'the traffic that came while paused');
    expect(resumed).not.toContain('PAUSED');
    expect(resumed).toMatch(/devices 2\s+sessions 2\s+exchanges 4/);
    expect(resumed).toContain('Devices (2)');
  });

  it('a push lands on the device row it wakes (one row per device channel), and its timeline shows it', async () => {
    const r = dashboardRig();
    const token = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
    r.feed(r.ex(checkin('TokenUpdate', { Token: token, PushMagic: 'MAGIC-1', Topic: 'com.apple.mgmt.test' })));
    r.strand();
    r.pipeline.push({ ts: r.now() + 10, tokenHash: sha256Hex(token.toString('hex')), tokenPrefix: '00112233', pushMagicHash: sha256Hex('MAGIC-1'), apnsStatus: 200 });
    r.store.flushNow();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    let f = await until(ui.lastFrame, (x) => x.includes('Devices (1)'), 'one device row');
    expect(r.store.getSnapshot().counters.devices).toBe(1);
    expect(f).toContain('push owed 0');
    expect(f).not.toMatch(/push owed \d+[sm]/);
    await press(ui, KEY.enter);
    f = await until(ui.lastFrame, (x) => x.includes('Enter: exchange detail'), 'the timeline');
    expect(f).toContain('push 00112233… → APNs 200');
    expect(f).toContain('push obligation met (push)');
  });

  it('q calls onQuit', async () => {
    const r = dashboardRig();
    let quit = 0;
    const ui = render(<App store={r.store} onQuit={() => quit++} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('mdmtap'), 'a frame');
    await press(ui, 'q');
    for (let i = 0; i < 100 && quit === 0; i++) await new Promise((res) => setTimeout(res, 5));
    expect(quit).toBe(1);
  });

  it('fits 80×24: no frame taller than the terminal, no line wider than 80 columns', async () => {
    const r = dashboardRig();
    for (let i = 0; i < 40; i++) r.strand(`DEVICE-${String(i).padStart(4, '0')}-WITH-A-VERY-LONG-IDENTIFIER`);
    r.advance(61_000);
    r.store.flushNow();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={80} rows={24} color={true} />);
    const first = await until(ui.lastFrame, (x) => x.includes('notnow-no-push'), 'warnings');
    // The counters that matter survive the narrow width (the sparkline gives way), and so does PAUSED.
    expect(first).toMatch(/NotNow 40\s+push owed 0\s+stranded 40\s+warnings 40 open/);
    await press(ui, 'p');
    expect(strip(ui.lastFrame() ?? '').split('\n')[0]).toContain('PAUSED');
    await press(ui, 'p');
    // Devices pane, two down; Tab twice wraps to the warnings pane; Enter opens the warning in full, wrapped to
    // the width, and Enter again its device's timeline.
    await press(ui, KEY.down, KEY.down, KEY.tab, KEY.tab, KEY.enter);
    const warning = await until(ui.lastFrame, (x) => x.includes('Warning · Enter: device timeline'), 'the warning');
    expect(warning).toContain('device DEVICE-0039-WITH-A-VERY-LONG-IDENTIFIER · device channel');
    expect(warning).toMatch(/push within 1m: the device will not come back for it on its own\. After a session\n/);
    await press(ui, KEY.enter);
    await until(ui.lastFrame, (x) => x.includes('Enter: exchange detail'), 'the timeline');
    for (const frame of ui.frames) {
      const lines = strip(frame).split('\n');
      expect(lines.length).toBeLessThanOrEqual(24);
      for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(80);
    }
  });

  it('with 10,000 devices renders only the visible rows and the store still answers', async () => {
    const r = dashboardRig();
    for (let i = 0; i < 10_000; i++) r.feed(r.ex(idle(), Buffer.alloc(0), `FLEET-${String(i).padStart(5, '0')}`));
    const snap = r.store.getSnapshot();
    expect(snap.counters.devices).toBe(10_000);
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('Devices (10000)'), 'the fleet');
    expect(f.split('\n').length).toBeLessThanOrEqual(30);
    expect((f.match(/FLEET-/g) ?? []).length).toBeLessThan(40);
  });
});
