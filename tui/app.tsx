/**
 * The dashboard: header, warnings, devices and the live exchange log, with drill-down into a device's timeline
 * and an exchange's decoded plists. It renders snapshots from the DashboardStore (outside React) and never more
 * lines than the terminal has.
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useInput, useStdout } from 'ink';
import type { DashboardStore, DeviceRow, LogLine, Snapshot, WarningRow } from './state/dashboard-store.js';
import { theme as makeTheme } from './theme.js';
import { Header } from './components/Header.js';
import { WarningsPanel } from './components/WarningsPanel.js';
import { DevicesTable, SORT_KEYS, sortDevices } from './components/DevicesTable.js';
import { ExchangeLog } from './components/ExchangeLog.js';
import { DeviceTimeline } from './components/DeviceTimeline.js';
import { ExchangeDetail, detailLines } from './components/ExchangeDetail.js';
import { Help } from './components/Help.js';

export interface AppProps {
  store: DashboardStore;
  onQuit: () => void;
  /** Terminal size overrides (tests); otherwise read from stdout and followed on resize. */
  columns?: number;
  rows?: number;
  color?: boolean;
}

type View = { kind: 'main' } | { kind: 'timeline'; deviceKey: string } | { kind: 'detail'; exchangeId: string } | { kind: 'help' };
const PANES = ['warnings', 'devices', 'log'] as const;

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

export function App({ store, onQuit, columns, rows, color }: AppProps) {
  const size = useTerminalSize(columns, rows);
  const theme = useMemo(() => makeTheme(color), [color]);
  const [snap, setSnap] = useState<Snapshot>(() => store.getSnapshot());
  const [paused, setPaused] = useState(false);
  const [view, setView] = useState<View[]>([{ kind: 'main' }]);
  const [focus, setFocus] = useState(1);
  const [sel, setSel] = useState({ warnings: 0, devices: 0, log: 0, timeline: 0, detail: 0 });
  const [filter, setFilter] = useState('');
  const [editing, setEditing] = useState(false);
  const [warningsOnly, setWarningsOnly] = useState(false);
  const [sortIdx, setSortIdx] = useState(0);

  useEffect(() => store.subscribe((s) => (paused ? undefined : setSnap(s))), [store, paused]);

  const f = filter.toLowerCase();
  const devices = useMemo(() => {
    let rowsList: readonly DeviceRow[] = snap.devices;
    if (warningsOnly) rowsList = rowsList.filter((d) => d.warnings > 0 || d.state === 'push owed' || d.state === 'stranded');
    if (f) rowsList = rowsList.filter((d) => [d.udid, d.userId, d.model, d.lastStatus, d.state, d.platform].some((x) => x?.toLowerCase().includes(f)));
    return sortDevices(rowsList, SORT_KEYS[sortIdx]);
  }, [snap, f, warningsOnly, sortIdx]);
  const log = useMemo(() => {
    let l: readonly LogLine[] = snap.log;
    if (warningsOnly) l = l.filter((x) => x.what === 'NotNow' || x.httpStatus >= 400 || x.httpStatus === 0);
    if (f) l = l.filter((x) => [x.udid, x.what, x.requestType, x.answers].some((v) => v?.toLowerCase().includes(f)));
    return l;
  }, [snap, f, warningsOnly]);
  const warnings = useMemo(() => {
    const w: readonly WarningRow[] = snap.warnings;
    return f ? w.filter((x) => [x.rule, x.udid, x.message].some((v) => v.toLowerCase().includes(f))) : w;
  }, [snap, f]);

  const current = view[view.length - 1];
  const push = (v: View) => setView((s) => [...s, v]);
  const back = () => setView((s) => (s.length > 1 ? s.slice(0, -1) : s));
  const timelineEntries = current.kind === 'timeline' ? store.timelineOf(current.deviceKey) : [];

  // Keys go to the handler of the latest render. Ink swaps its own listener in an effect, after the frame is drawn:
  // keys typed (or pasted) in that gap would otherwise act on the state before the previous key.
  const onKey = useRef<Parameters<typeof useInput>[0]>(() => {});
  useInput((input, key) => onKey.current(input, key));
  onKey.current = (input, key) => {
    if (editing) {
      if (key.return) setEditing(false);
      else if (key.escape) {
        setEditing(false);
        setFilter('');
      } else if (key.backspace || key.delete) setFilter((x) => x.slice(0, -1));
      else if (input && !key.ctrl && !key.meta) setFilter((x) => x + input);
      return;
    }
    if (input === 'q' || (key.ctrl && input === 'c')) return onQuit();
    if (key.escape) {
      if (current.kind === 'main' && filter) setFilter('');
      return back();
    }
    if (input === '?') return current.kind === 'help' ? back() : push({ kind: 'help' });
    if (input === 'p') return setPaused((p) => !p);
    const move = key.upArrow || input === 'k' ? -1 : key.downArrow || input === 'j' ? 1 : 0;
    if (current.kind === 'timeline') {
      if (move) setSel((s) => ({ ...s, timeline: clamp(s.timeline + move, timelineEntries.length) }));
      if (key.return) {
        const e = timelineEntries[sel.timeline];
        if (e?.exchangeId) {
          setSel((s) => ({ ...s, detail: 0 }));
          push({ kind: 'detail', exchangeId: e.exchangeId });
        }
      }
      return;
    }
    if (current.kind === 'detail') {
      if (move) setSel((s) => ({ ...s, detail: Math.max(0, s.detail + move) }));
      return;
    }
    if (current.kind !== 'main') return;
    if (input === '/') {
      setEditing(true);
      return;
    }
    if (input === 'w') return setWarningsOnly((w) => !w);
    if (input === 's') return setSortIdx((i) => (i + 1) % SORT_KEYS.length);
    if (key.tab) return setFocus((x) => (x + (key.shift ? PANES.length - 1 : 1)) % PANES.length);
    const pane = PANES[focus];
    if (move) {
      if (pane === 'warnings') setSel((s) => ({ ...s, warnings: clamp(s.warnings + move, warnings.length) }));
      if (pane === 'devices') setSel((s) => ({ ...s, devices: clamp(s.devices + move, devices.length) }));
      // The log counts back from the newest line: "up" goes further back.
      if (pane === 'log') setSel((s) => ({ ...s, log: clamp(s.log - move, log.length) }));
    }
    if (key.return) {
      if (pane === 'devices' && devices[sel.devices]) {
        const entries = store.timelineOf(devices[sel.devices].key);
        setSel((s) => ({ ...s, timeline: Math.max(0, entries.length - 1) }));
        push({ kind: 'timeline', deviceKey: devices[sel.devices].key });
      }
      if (pane === 'warnings') {
        const w = [...warnings].reverse()[sel.warnings];
        if (w) {
          const entries = store.timelineOf(w.deviceKey);
          setSel((s) => ({ ...s, timeline: Math.max(0, entries.length - 1) }));
          push({ kind: 'timeline', deviceKey: w.deviceKey });
        }
      }
      if (pane === 'log') {
        const l = log[log.length - 1 - sel.log];
        if (l) {
          setSel((s) => ({ ...s, detail: 0 }));
          push({ kind: 'detail', exchangeId: l.exchangeId });
        }
      }
    }
  };

  const width = Math.max(20, size.columns);
  // One line below the terminal's height: Ink then redraws in place instead of clearing the screen.
  const height = Math.max(8, size.rows - 1);
  const headerH = 3;
  const footerH = 1;
  const body = height - headerH - footerH;

  let main: React.ReactNode;
  if (current.kind === 'help') main = <Help height={body} />;
  else if (current.kind === 'timeline') {
    const device = snap.devices.find((d) => d.key === current.deviceKey);
    main = device ? (
      <DeviceTimeline device={device} entries={timelineEntries} height={body} width={width} theme={theme} selected={clamp(sel.timeline, timelineEntries.length)} />
    ) : (
      <Text>device no longer known</Text>
    );
  } else if (current.kind === 'detail') {
    main = <ExchangeDetail detail={store.detail(current.exchangeId)} height={body} width={width} theme={theme} scroll={sel.detail} />;
  } else {
    const warnH = Math.min(7, Math.max(2, Math.floor(body * 0.25)));
    const devH = Math.max(3, Math.floor((body - warnH) * 0.55));
    const logH = Math.max(0, body - warnH - devH);
    main = (
      <>
        <WarningsPanel warnings={warnings} now={snap.now} height={warnH} width={width} theme={theme} focused={focus === 0} selected={sel.warnings} />
        <DevicesTable rows={devices} now={snap.now} height={devH} width={width} theme={theme} focused={focus === 1} selected={clamp(sel.devices, devices.length)} sort={SORT_KEYS[sortIdx]} />
        <ExchangeLog lines={log} height={logH} width={width} theme={theme} focused={focus === 2} selected={clamp(sel.log, log.length)} />
      </>
    );
  }

  const footer = editing
    ? `filter: ${filter}▏ (Enter keep, Esc clear)`
    : `${filter ? `filter "${filter}" · ` : ''}${warningsOnly ? 'warnings only · ' : ''}Tab pane · ↑↓ move · Enter open · Esc back · / filter · w warnings · s sort · p pause · ? help · q quit`;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header snap={snap} theme={theme} width={width} paused={paused} />
      <Box flexDirection="column" height={body} overflowY="hidden">
        {main}
      </Box>
      <Text wrap="truncate" dimColor={theme.dim}>
        {footer}
      </Text>
    </Box>
  );
}

function clamp(i: number, n: number): number {
  return Math.max(0, Math.min(i, n - 1));
}

export { detailLines };
