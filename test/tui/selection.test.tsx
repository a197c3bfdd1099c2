import { afterEach, describe, expect, it } from 'vitest';
import React from 'react';
import { render, cleanup } from 'ink-testing-library';
import { App } from '../../tui/app.js';
import { move, NONE, place } from '../../tui/state/selection.js';
import { dashboardRig, KEY, press, selectedLine, until } from '../helpers/dashboard-rig.js';

afterEach(() => cleanup());

const ids = (xs: string[]) => xs.map((id) => ({ id }));
const key = (x: { id: string }) => x.id;

describe('selection that follows its item', () => {
  it('place/move: a key is found wherever its row moved; a lost key stays where it was and says so', () => {
    const rows = ids(['a', 'b', 'c', 'd']);
    const s = move(rows, key, NONE, 3, 'centre', 2);
    expect(s.key).toBe('c');
    expect(place(ids(['c', 'a', 'b', 'd']), key, s, 3, 'centre')).toMatchObject({ index: 0 });
    expect(place(ids(['a', 'b', 'd']), key, s, 3, 'centre')).toMatchObject({ index: 2, lost: true });
  });

  it('a log follows its newest line until moved up, then holds the selected line on its screen row', () => {
    const log = ids(['1', '2', '3', '4', '5']);
    expect(place(log, key, NONE, 3, 'follow')).toEqual({ index: 4, start: 2 });
    const held = move(log, key, NONE, 3, 'follow', -1);
    expect(held).toMatchObject({ key: '4', offset: 1 });
    const grown = ids(['1', '2', '3', '4', '5', '6', '7']);
    expect(place(grown, key, held, 3, 'follow')).toEqual({ index: 3, start: 2 });
    // Down to the newest follows again.
    expect(move(grown, key, held, 3, 'follow', 3).key).toBeUndefined();
  });

  it('the selected device stays selected while traffic reorders the rows under it, and Enter opens that device', async () => {
    const r = dashboardRig();
    for (const d of ['DEVICE-A', 'DEVICE-B', 'DEVICE-C']) r.poll(d);
    const ui = render(<App store={r.store} onQuit={() => {}} columns={120} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('DEVICE-A'), 'rows');
    // Sorted by last seen: C, B, A. One down is B.
    await press(ui, 'j');
    expect(selectedLine(await until(ui.lastFrame, (x) => /› DEVICE-B/.test(x), 'B selected'))).toMatch(/^› DEVICE-B/);
    // A polls, then C: the rows reorder to C, A, B and B moves to the bottom; the selection goes with it.
    r.poll('DEVICE-A');
    r.poll('DEVICE-C');
    r.store.flushNow();
    const f = await until(ui.lastFrame, (x) => x.indexOf('DEVICE-A  ') < x.indexOf('DEVICE-B  '), 'the new order');
    expect(selectedLine(f)).toMatch(/^› DEVICE-B/);
    await press(ui, KEY.enter);
    expect(await until(ui.lastFrame, (x) => x.includes('Enter: exchange detail'), 'the timeline')).toContain('DEVICE-B · device');
  });

  it('the exchange log holds the selected exchange while new ones arrive, and follows again at the bottom', async () => {
    const r = dashboardRig();
    // More exchanges than the log pane shows (30 rows: 8 lines).
    for (let i = 10; i < 22; i++) r.poll(`DEV-${i}`);
    const ui = render(<App store={r.store} onQuit={() => {}} columns={100} rows={30} color={false} />);
    await until(ui.lastFrame, (x) => x.includes('DEV-21'), 'the log');
    await press(ui, KEY.tab);
    expect(selectedLine(await until(ui.lastFrame, (x) => /› \d\d:\d\d:\d\d DEV-21/.test(x), 'the newest selected'), 'Exchanges')).toContain('DEV-21');
    await press(ui, 'k');
    const held = await until(ui.lastFrame, (x) => x.includes('held'), 'held');
    const row = held.split('\n').findIndex((l) => /^› .*DEV-20/.test(l));
    expect(row).toBeGreaterThan(0);
    for (let i = 22; i < 26; i++) r.poll(`DEV-${i}`);
    r.store.flushNow();
    const after = await until(ui.lastFrame, (x) => x.includes('newer below'), 'new lines below');
    expect(after).toContain('held (4 newer below)');
    expect(after.slice(after.indexOf('Exchanges'))).not.toContain('DEV-25');
    // Same exchange, same screen row.
    expect(after.split('\n').findIndex((l) => /^› .*DEV-20/.test(l))).toBe(row);
    await press(ui, 'j', 'j', 'j', 'j', 'j');
    const following = await until(ui.lastFrame, (x) => !x.includes('held'), 'following again');
    expect(selectedLine(following, 'Exchanges')).toContain('DEV-25');
    // Following: a new exchange becomes the selection.
    r.poll('DEV-26');
    r.store.flushNow();
    expect(selectedLine(await until(ui.lastFrame, (x) => x.includes('DEV-26'), 'the next line'), 'Exchanges')).toContain('DEV-26');
  });
});
