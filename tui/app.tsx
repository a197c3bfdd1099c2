/**
 * The dashboard: header, warnings, devices and the live exchange log, with drill-down into a warning in full, a
 * device's timeline and an exchange's decoded plists. It renders snapshots from the DashboardStore (outside React)
 * and never more lines than the terminal has. Selections follow their item (tui/state/selection.ts).
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useInput, useStdout, type Key } from 'ink';
import type { DashboardStore, DeviceRow, LogLine, Snapshot, WarningRow } from './state/dashboard-store.js';
import { theme as makeTheme } from './theme.js';
import { Header, headerHeight } from './components/Header.js';
import { WarningsPanel } from './components/WarningsPanel.js';
import { DevicesTable, SORT_KEYS, sortDevices } from './components/DevicesTable.js';
import { ExchangeLog } from './components/ExchangeLog.js';
import { DeviceTimeline } from './components/DeviceTimeline.js';
import { ExchangeDetail, detailLines } from './components/ExchangeDetail.js';
import { WarningDetail } from './components/WarningDetail.js';
import { Help } from './components/Help.js';
import { move, NONE, place, type Selection } from './state/selection.js';
import { fitItems } from './format.js';

export interface AppProps {
  store: DashboardStore;
  onQuit: () => void;
  /** Terminal size overrides (tests); otherwise read from stdout and followed on resize. */
  columns?: number;
  rows?: number;
  color?: boolean;
}

type View =
  | { kind: 'main' }
  | { kind: 'timeline'; deviceKey: string }
  | { kind: 'detail'; exchangeId: string }
  | { kind: 'warning'; id: number }
  | { kind: 'help' };
const PANES = ['warnings', 'devices', 'log'] as const;
type Pane = (typeof PANES)[number];

const deviceKey = (d: DeviceRow) => d.key;
const warningKey = (w: WarningRow) => String(w.id);
const logKey = (l: LogLine) => l.exchangeId;

function useTerminalSize(cols?: number, rows?: number): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: cols ?? stdout.columns ?? 100, rows: rows ?? (stdout as { rows?: number }).rows ?? 30 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    setSize(read());
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, cols, rows]);
  return size;
}

/** The pane heights of the main view: warnings a quarter (2–7 rows), devices over half of the rest, the log the remainder. */
function layout(body: number): { warnH: number; devH: number; logH: number } {
  const warnH = Math.min(7, Math.max(2, Math.floor(body * 0.25)));
  const devH = Math.max(3, Math.floor((body - warnH) * 0.55));
  return { warnH, devH, logH: Math.max(0, body - warnH - devH) };
}

export function App({ store, onQuit, columns, rows, color }: AppProps) {
  const size = useTerminalSize(columns, rows);
  const theme = useMemo(() => makeTheme(color), [color]);
  const [snap, setSnap] = useState<Snapshot>(() => store.getSnapshot());
  const [paused, setPaused] = useState(false);
  const [view, setView] = useState<View[]>([{ kind: 'main' }]);
  const [focus, setFocus] = useState(1);
  const [sel, setSel] = useState<Record<Pane, Selection>>({ warnings: NONE, devices: NONE, log: NONE });
  const [line, setLine] = useState({ timeline: 0, detail: 0, warning: 0 });
  const [filter, setFilter] = useState('');
  const [editing, setEditing] = useState(false);
  const [warningsOnly, setWarningsOnly] = useState(false);
  const [sortIdx, setSortIdx] = useState(0);

  // Read by the store's listener, and set by the key itself: a pause holds from the keypress on, not only once React
  // has re-run an effect (a snapshot delivered in between used to slip through).
  const pausedNow = useRef(false);
  useEffect(() => store.subscribe((s) => (pausedNow.current ? undefined : setSnap(s))), [store]);
  const togglePause = () => {
    pausedNow.current = !pausedNow.current;
    setPaused(pausedNow.current);
    // Resuming shows at once what came in meanwhile.
    if (!pausedNow.current) setSnap(store.getSnapshot());
  };

  const f = filter.toLowerCase();
  const devices = useMemo(() => {
    let rowsList: readonly DeviceRow[] = snap.devices;
    if (warningsOnly) rowsList = rowsList.filter((d) => d.openWarnings + d.openInfos > 0 || d.state === 'push owed' || d.state === 'stranded');
    if (f) rowsList = rowsList.filter((d) => [d.udid, d.userId, d.userShortName, d.model, d.lastStatus, d.state, d.platform].some((x) => x?.toLowerCase().includes(f)));
    return sortDevices(rowsList, SORT_KEYS[sortIdx]);
  }, [snap, f, warningsOnly, sortIdx]);
  const log = useMemo(() => {
    let l: readonly LogLine[] = snap.log;
    if (warningsOnly) l = l.filter((x) => x.what === 'NotNow' || x.httpStatus >= 400 || x.httpStatus === 0);
    if (f) l = l.filter((x) => [x.udid, x.what, x.requestType, x.answers].some((v) => v?.toLowerCase().includes(f)));
    return l;
  }, [snap, f, warningsOnly]);
  // Newest first, as the panel shows them.
  const warnings = useMemo(() => {
    const w = [...snap.warnings].reverse();
    return f ? w.filter((x) => [x.rule, x.udid, x.message].some((v) => v.toLowerCase().includes(f))) : w;
  }, [snap, f]);

  const width = Math.max(20, size.columns);
  // One line below the terminal's height: Ink then redraws in place instead of clearing the screen.
  const height = Math.max(8, size.rows - 1);
  const headerH = Math.min(headerHeight(snap.info, width), Math.max(3, height - 6));
  const body = Math.max(1, height - headerH - 1);
  const panes = layout(body);
  const lists = {
    warnings: { items: warnings as readonly unknown[], key: warningKey as (t: unknown) => string, visible: Math.max(1, panes.warnH - 1), mode: 'centre' as const },
    devices: { items: devices as readonly unknown[], key: deviceKey as (t: unknown) => string, visible: Math.max(1, panes.devH - 2), mode: 'centre' as const },
    log: { items: log as readonly unknown[], key: logKey as (t: unknown) => string, visible: Math.max(1, panes.logH - 1), mode: 'follow' as const },
  };
  // What is shown selected is held from the first frame on, not only once a key has moved it: a warning or device
  // arriving above it must not slide a different one under the cursor before Enter (found in review).
  useEffect(() => {
    setSel((s) => {
      let next = s;
      for (const pane of ['warnings', 'devices'] as const) {
        const { items, key } = lists[pane];
        if (s[pane].key === undefined && items.length > 0) next = { ...next, [pane]: { key: key(items[0]), index: 0, offset: 0 } };
      }
      return next;
    });
  }, [warnings, devices]);
  const placed = {
    warnings: place(lists.warnings.items, lists.warnings.key, sel.warnings, lists.warnings.visible, 'centre'),
    devices: place(lists.devices.items, lists.devices.key, sel.devices, lists.devices.visible, 'centre'),
    log: place(lists.log.items, lists.log.key, sel.log, lists.log.visible, 'follow'),
  };

  const current = view[view.length - 1];
  const push = (v: View) => setView((s) => [...s, v]);
  const back = () => setView((s) => (s.length > 1 ? s.slice(0, -1) : s));
  const timelineEntries = current.kind === 'timeline' ? store.timelineOf(current.deviceKey) : [];
  // The timeline's selection is an entry (its seq), not a row: the oldest entries age out while it is open.
  const indexOfSeq = (seq: number) => Math.max(0, timelineEntries.findIndex((e) => (e.seq ?? 0) >= seq));
  const timelineAt = indexOfSeq(line.timeline);
  const openTimeline = (key: string) => {
    setLine((l) => ({ ...l, timeline: store.timelineOf(key).at(-1)?.seq ?? 0 }));
    push({ kind: 'timeline', deviceKey: key });
  };

  const handle = (input: string, key: Key): void => {
    if (key.ctrl && input === 'c') return onQuit();
    if (editing) {
      if (key.return) setEditing(false);
      else if (key.escape) {
        setEditing(false);
        setFilter('');
      } else if (key.backspace || key.delete) setFilter((x) => x.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setFilter((x) => x + input);
      return;
    }
    if (input === 'q') return onQuit();
    if (key.escape) {
      if (current.kind === 'main' && filter) setFilter('');
      return back();
    }
    if (input === '?') return current.kind === 'help' ? back() : push({ kind: 'help' });
    // Pause holds a live display: the proxy's, or a capture being followed; a finished capture does not move.
    const live = !snap.info.readOnly || snap.info.following === true;
    if (input === 'p' && live) return togglePause();
    const step = key.upArrow || input === 'k' ? -1 : key.downArrow || input === 'j' ? 1 : key.pageUp ? -10 : key.pageDown ? 10 : 0;
    if (current.kind === 'timeline') {
      // From the state, not this render: keys that arrive before the next render each count.
      if (step) setLine((l) => ({ ...l, timeline: timelineEntries[clamp(indexOfSeq(l.timeline) + step, timelineEntries.length)]?.seq ?? 0 }));
      // Found again now: entries may have aged out since the last render.
      const e = timelineEntries[clamp(indexOfSeq(line.timeline), timelineEntries.length)];
      if (key.return && e?.exchangeId) {
        setLine((l) => ({ ...l, detail: 0 }));
        push({ kind: 'detail', exchangeId: e.exchangeId });
      }
      return;
    }
    if (current.kind === 'detail' || current.kind === 'warning') {
      const which = current.kind;
      if (step) setLine((l) => ({ ...l, [which]: Math.max(0, l[which] + step) }));
      if (which === 'warning' && key.return) {
        const w = snap.warnings.find((x) => x.id === current.id);
        if (w) openTimeline(w.deviceKey);
      }
      return;
    }
    if (current.kind !== 'main') return;
    if (input === '/') return setEditing(true);
    if (input === 'w') return setWarningsOnly((w) => !w);
    if (input === 's') return setSortIdx((i) => (i + 1) % SORT_KEYS.length);
    if (key.tab) return setFocus((x) => (x + (key.shift ? PANES.length - 1 : 1)) % PANES.length);
    const pane = PANES[focus];
    const list = lists[pane];
    if (step) setSel((s) => ({ ...s, [pane]: move(list.items, list.key, s[pane], list.visible, list.mode, step) }));
    if (key.return) {
      const at = placed[pane].index;
      if (pane === 'devices' && devices[at]) openTimeline(devices[at].key);
      if (pane === 'warnings' && warnings[at]) {
        setLine((l) => ({ ...l, warning: 0 }));
        push({ kind: 'warning', id: warnings[at].id });
      }
      if (pane === 'log' && log[at]) {
        setLine((l) => ({ ...l, detail: 0 }));
        push({ kind: 'detail', exchangeId: log[at].exchangeId });
      }
    }
  };
  // Keys go to the handler of the latest render. Ink swaps its own listener in an effect, after the frame is drawn:
  // keys typed (or pasted) in that gap would otherwise act on the state before the previous key.
  const onKey = useRef(handle);
  onKey.current = handle;
  useInput((input, key) => {
    // A burst of keys can arrive as one chunk ("jjj", three Backspaces): each one counts.
    if (input.length > 1 && !key.ctrl && !key.meta && [...input].every((ch) => ch === input[0])) {
      const one = input[0] === '\u007f' || input[0] === '\b' ? { ...key, backspace: true } : key;
      for (let i = 0; i < input.length; i++) onKey.current(one.backspace ? '' : input[0], one);
      return;
    }
    onKey.current(input, key);
  });

  let main: React.ReactNode;
  if (current.kind === 'help') main = <Help height={body} width={width} />;
  else if (current.kind === 'timeline') {
    const device = snap.devices.find((d) => d.key === current.deviceKey);
    main = device ? (
      <DeviceTimeline device={device} entries={timelineEntries} height={body} width={width} theme={theme} selected={clamp(timelineAt, timelineEntries.length)} />
    ) : (
      <Text>This device is no longer in memory.</Text>
    );
  } else if (current.kind === 'detail') {
    main = <ExchangeDetail detail={store.detail(current.exchangeId)} height={body} width={width} theme={theme} scroll={line.detail} />;
  } else if (current.kind === 'warning') {
    main = <WarningDetail warning={snap.warnings.find((w) => w.id === current.id)} now={snap.now} height={body} width={width} theme={theme} scroll={line.warning} />;
  } else {
    const lost = (p: Pane, what: string) => (placed[p].lost ? `${what} left the list${f || warningsOnly ? ' (filter)' : ''}` : undefined);
    // What every pane of the main view takes: its place in the layout, its selection, and where that went.
    const pane = (p: Pane, what: string) => ({
      width, theme, focused: PANES[focus] === p, selected: placed[p].index, start: placed[p].start,
      ...optional('note', lost(p, what)),
    });
    main = (
      <>
        <WarningsPanel rows={warnings} open={snap.counters.openWarnings} now={snap.now} height={panes.warnH} {...pane('warnings', 'the selected warning')} />
        <DevicesTable rows={devices} now={snap.now} height={panes.devH} sort={SORT_KEYS[sortIdx]} {...pane('devices', 'the selected device')} />
        <ExchangeLog lines={log} height={panes.logH} following={sel.log.key === undefined} {...pane('log', 'the selected exchange')} />
      </>
    );
  }

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header snap={snap} theme={theme} width={width} paused={paused} />
      <Box flexDirection="column" height={body} overflowY="hidden">
        {main}
      </Box>
      <Text wrap="truncate" dimColor={theme.dim}>
        {footer(width, { editing, filter, warningsOnly, view: current.kind, readOnly: snap.info.readOnly === true && snap.info.following !== true })}
      </Text>
    </Box>
  );
}

/**
 * The key line: what the current view takes, cut to the width by dropping the least needed first; `? help` and
 * `q quit` stay at any width.
 */
export function footer(width: number, s: { editing: boolean; filter: string; warningsOnly: boolean; view: View['kind']; readOnly: boolean }): string {
  if (s.editing) return `filter: ${s.filter}▏ (Enter keep, Esc clear)`;
  const keys: Array<{ text: string; priority: number }> = [];
  if (s.filter) keys.push({ text: `filter "${s.filter}"`, priority: 1 });
  if (s.warningsOnly) keys.push({ text: 'warnings only', priority: 1 });
  if (s.view === 'main') {
    keys.push({ text: 'Tab pane', priority: 3 }, { text: '↑↓ move', priority: 4 }, { text: 'Enter open', priority: 2 }, { text: '/ filter', priority: 5 }, { text: 'w warnings', priority: 6 }, { text: 's sort', priority: 7 });
    if (!s.readOnly) keys.push({ text: 'p pause', priority: 8 });
  } else {
    keys.push({ text: 'Esc back', priority: 2 }, { text: '↑↓ move', priority: 3 });
    if (s.view === 'timeline' || s.view === 'warning') keys.push({ text: 'Enter open', priority: 4 });
  }
  keys.push({ text: '? help', priority: 0 }, { text: 'q quit', priority: 0 });
  return fitItems(keys, width, ' · ').join(' · ');
}

function optional<K extends string>(name: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [name]: value } as Record<K, string>);
}

function clamp(i: number, n: number): number {
  return Math.max(0, Math.min(i, n - 1));
}

export { detailLines };
