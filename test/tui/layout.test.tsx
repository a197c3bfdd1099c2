import { afterEach, describe, expect, it } from 'vitest';
import React from 'react';
import { render, cleanup } from 'ink-testing-library';
import { App, footer } from '../../tui/app.js';
import { helpLines, KEYS } from '../../tui/components/Help.js';
import { middle } from '../../tui/format.js';
import { idle } from '../helpers/mdm-bodies.js';
import { dashboardRig, KEY, press, strip, until } from '../helpers/dashboard-rig.js';

afterEach(() => cleanup());

/** A real UDID's shape: the first 8 digits name the chip, the end tells devices apart. */
const REAL = '00008030-001A2B3C4D5E802E';
const SIZES: Array<[number, number]> = [
  [80, 24],
  [120, 40],
  [200, 50],
];

function fleetWithUser() {
  const r = dashboardRig();
  r.strand(REAL);
  const user = { UserID: 'A0000000-0000-0000-0000-00000000000A', UserShortName: 'ann', UserLongName: 'Ann' };
  r.feed(r.ex(idle(user), Buffer.alloc(0), REAL));
  r.advance(61_000);
  r.store.flushNow();
  return r;
}

const fits = (frames: string[], cols: number, rows: number) => {
  for (const frame of frames) {
    const lines = strip(frame).split('\n');
    expect(lines.length).toBeLessThanOrEqual(rows);
    for (const l of lines) expect([...l].length, l).toBeLessThanOrEqual(cols);
  }
};

describe('widths that use the terminal', () => {
  it.each(SIZES)('at %i×%i: identities whole when they fit, shortened from the middle when not; the footer keeps help and quit', async (cols, rows) => {
    const r = fleetWithUser();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={cols} rows={rows} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('notnow-no-push'), 'the warning');
    const [devices, log] = [f.slice(f.indexOf('Devices ('), f.indexOf('Exchanges')), f.slice(f.indexOf('Exchanges'))];
    const warnings = f.slice(f.indexOf('Warnings ('), f.indexOf('Devices ('));
    if (cols >= 120) {
      for (const pane of [devices, log, warnings]) expect(pane).toContain(REAL);
    } else {
      const short = middle(REAL, 14);
      expect(short).toBe('000080…D5E802E');
      expect(devices).toContain(short);
      expect(devices).not.toContain(REAL);
    }
    expect(f.split('\n').at(-1)).toMatch(/\? help · q quit$/);
    fits(ui.frames, cols, rows);
  });

  it('the help screen wraps at 80 columns: every word of every line is there, no line is cut', async () => {
    for (const l of helpLines(80)) expect(l.length).toBeLessThanOrEqual(80);
    const text = helpLines(80).join(' ').replace(/\s+/g, ' ');
    for (const [, description] of KEYS) for (const word of description.split(' ')) expect(text).toContain(word);
    const r = fleetWithUser();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={80} rows={24} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('Devices'), 'the dashboard');
    await press(ui, '?');
    const f = await until(ui.lastFrame, (x) => x.includes('Keys'), 'help');
    expect(f).toContain('stranded (no push by the deadline)');
    fits(ui.frames, 80, 24);
  });

  it('the footer drops what is least needed first and never `? help` or `q quit`', () => {
    const state = { editing: false, filter: '', warningsOnly: false, view: 'main' as const, readOnly: false };
    expect(footer(200, state)).toBe('Tab pane · ↑↓ move · Enter open · / filter · w warnings · s sort · p pause · ? help · q quit');
    expect(footer(60, state)).toBe('Tab pane · ↑↓ move · Enter open · / filter · ? help · q quit');
    expect(footer(20, state)).toBe('? help · q quit');
    expect(footer(200, { ...state, readOnly: true })).not.toContain('p pause');
  });
});

describe('notices and counters', () => {
  it('a security notice has a line of its own, whole, at 80 columns', async () => {
    const r = fleetWithUser();
    const notice = 'WARNING: --insecure-upstream: the upstream server certificate is NOT verified; anyone on the path can read and change what devices send.';
    r.store.setInfo({ notices: [notice] });
    const ui = render(<App store={r.store} onQuit={() => {}} columns={80} rows={24} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('! WARNING'), 'the notice');
    const lines = f.split('\n');
    const at = lines.findIndex((l) => l.startsWith('! WARNING'));
    expect(lines.slice(at, at + 2).join(' ')).toBe(`! ${notice}`);
    fits(ui.frames, 80, 24);
  });

  it("the header's counts agree with the panes: open warnings, devices and their channels", async () => {
    const r = fleetWithUser();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={200} rows={50} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('notnow-no-push'), 'the warning');
    expect(f).toContain('devices 1 (2 channels)');
    expect(f).toContain('Devices (2)');
    expect(f).toMatch(/warnings 1 open/);
    expect(f).toContain('Warnings (1 open)');
    expect(f).toMatch(/push owed 0\s+stranded 1/);
  });
});

describe('keys', () => {
  it('Ctrl-C quits even while the filter prompt is open', async () => {
    const r = fleetWithUser();
    let quit = 0;
    const ui = render(<App store={r.store} onQuit={() => quit++} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('Devices'), 'the dashboard');
    await press(ui, '/', 'a');
    await until(ui.lastFrame, (x) => x.includes('filter: a'), 'the prompt');
    await press(ui, KEY.ctrlC);
    expect(quit).toBe(1);
  });

  it('a burst of keys in one chunk counts every key: twelve Backspaces delete twelve characters', async () => {
    const r = fleetWithUser();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('Devices'), 'the dashboard');
    await press(ui, '/');
    ui.stdin.write('abcdefghijklmnop');
    await until(ui.lastFrame, (x) => x.includes('filter: abcdefghijklmnop'), 'typed');
    ui.stdin.write(KEY.backspace.repeat(12));
    await until(ui.lastFrame, (x) => x.includes('filter: abcd▏'), 'twelve deleted');
  });
});

describe('the read-only view', () => {
  it('a finished capture shows no live rate, sparkline or pause; one being written says it follows', async () => {
    const r = fleetWithUser();
    r.store.setInfo({ mode: 'capture (read-only)', listen: undefined, readOnly: true });
    const ui = render(<App store={r.store} onQuit={() => {}} columns={120} rows={30} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('finished'), 'the header');
    expect(f.split('\n')[1]).not.toMatch(/\/s|[▁▂▃▄▅▆▇█]/);
    expect(f).not.toContain('p pause');
    await press(ui, 'p');
    expect(strip(ui.lastFrame() ?? '')).not.toContain('PAUSED');
    r.store.setInfo({ following: true });
    r.store.flushNow();
    const g = await until(ui.lastFrame, (x) => x.includes('following: a proxy is writing it'), 'following');
    expect(g.split('\n')[1]).toMatch(/\d+\/s/);
  });
});

describe('a capture that fails while running', () => {
  it('gets a notice line of its own that stays (the latest failure), besides the error note', async () => {
    const r = fleetWithUser();
    r.pipeline.error('store', 'could not write 12 rows to mdmtap.sqlite: database or disk is full');
    r.pipeline.error('upstream-unreachable', 'mdm.example.com:443: connect ECONNREFUSED');
    r.store.flushNow();
    const ui = render(<App store={r.store} onQuit={() => {}} columns={120} rows={30} color={false} />);
    const f = await until(ui.lastFrame, (x) => x.includes('! capture:'), 'the notice');
    expect(f).toContain('! capture: could not write 12 rows to mdmtap.sqlite: database or disk is full');
    expect(f).toContain('upstream-unreachable: mdm.example.com:443');
  });
});
