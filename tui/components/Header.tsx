import React from 'react';
import { Box, Text } from 'ink';
import type { DashboardInfo, Snapshot } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { fitItems, sparkline, wrap } from '../format.js';
import { formatDuration } from '../../src/util/duration.js';

/** The notices' lines at a width: each notice whole, wrapped, never cut. */
export function noticeLines(info: DashboardInfo, width: number): string[] {
  return (info.notices ?? []).flatMap((n) => wrap(`! ${n}`, width));
}

/** How many lines the header takes: three, and the notices. */
export function headerHeight(info: DashboardInfo, width: number): number {
  return 3 + noticeLines(info, width).length;
}

/**
 * Where mdmtap is and what it has seen. Each line keeps what matters most when the terminal is narrow: the listen
 * address before the mode, the warnings and pushes owed before the exchange count.
 */
export function Header({ snap, theme, width, paused }: { snap: Snapshot; theme: Theme; width: number; paused: boolean }) {
  const { info, counters: c } = snap;
  const live = !info.readOnly || info.following;
  const first = fitItems(
    [
      { text: info.listen ? `on ${info.listen}` : '', priority: 1 },
      { text: info.mode, priority: 2 },
      { text: info.upstream ? `→ ${info.upstream}` : '', priority: 2 },
      { text: info.captureFile ? `capture ${info.captureFile}` : 'no capture', priority: 3 },
      { text: info.readOnly ? (info.following ? 'following: a proxy is writing it' : 'finished') : '', priority: 1 },
      { text: info.caFingerprint ? `CA ${info.caFingerprint.slice(0, 11)}…` : '', priority: 5 },
    ].filter((i) => i.text),
    width - 7 - (paused ? 9 : 0),
  );
  const counters: Array<{ label: string; value: string; color?: string; priority: number }> = [
    { label: 'devices', value: c.channels > c.devices ? `${c.devices} (${c.channels} channels)` : String(c.devices), priority: 4 },
    { label: 'sessions', value: String(c.sessions), priority: 6 },
    { label: 'exchanges', value: String(c.exchanges), priority: 7 },
    { label: 'NotNow', value: String(c.notNow), color: theme.notnow, priority: 5 },
    { label: 'push owed', value: String(c.pushOwed), color: theme.owed, priority: 2 },
    { label: 'stranded', value: String(c.stranded), color: c.stranded ? theme.warning : undefined, priority: 3 },
    { label: 'warnings', value: `${c.openWarnings} open`, color: c.openWarnings ? theme.warning : undefined, priority: 1 },
  ];
  const rate = snap.rate.at(-1) ?? 0;
  const rateText = live ? `  ${rate}/s ` : '';
  const kept = new Set(fitItems(counters.map((x) => ({ text: `${x.label} ${x.value}`, priority: x.priority })), width - rateText.length));
  const shown = counters.filter((x) => kept.has(`${x.label} ${x.value}`));
  const used = shown.reduce((n, x) => n + x.label.length + 1 + x.value.length, 0) + 2 * Math.max(0, shown.length - 1);
  const spark = live ? sparkline(snap.rate.slice(-Math.max(0, Math.min(20, width - used - rateText.length)))) : '';
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold color={theme.accent}>mdmtap</Text>
        {paused ? <Text inverse> PAUSED </Text> : null} {first.join(' · ')}
      </Text>
      <Text wrap="truncate">
        {shown.map((x, i) => (
          <React.Fragment key={x.label}>
            {i ? '  ' : ''}
            {x.label} <Text color={x.color}>{x.value}</Text>
          </React.Fragment>
        ))}
        {rateText}
        {spark}
      </Text>
      <Text wrap="truncate" dimColor={theme.dim}>
        push grace {formatDuration(info.pushGraceMs)}
        {info.note ? ` · ${info.note}` : ''}
        {info.pushObservable ? ' · pushes observed via APNs interception' : ' · pushes not observable: a return of the device is the only proof of a push'}
      </Text>
      {noticeLines(info, width).map((l, i) => (
        <Text key={i} wrap="truncate" color={theme.warning} bold>
          {l}
        </Text>
      ))}
    </Box>
  );
}
