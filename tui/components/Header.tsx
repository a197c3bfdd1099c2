import React from 'react';
import { Box, Text } from 'ink';
import type { Snapshot } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { sparkline } from '../format.js';

/** Where mdmtap is and what it has seen: three lines at most. */
export function Header({ snap, theme, width, paused }: { snap: Snapshot; theme: Theme; width: number; paused: boolean }) {
  const { info, counters: c } = snap;
  const rate = snap.rate.at(-1) ?? 0;
  const grace = info.pushGraceMs % 60_000 === 0 ? `${info.pushGraceMs / 60_000}m` : `${info.pushGraceMs / 1000}s`;
  const where = [info.mode, info.listen && `on ${info.listen}`, info.upstream && `→ ${info.upstream}`].filter(Boolean).join(' ');
  const capture = info.captureFile ? `capture ${info.captureFile}` : 'no capture';
  const ca = info.caFingerprint ? `CA ${info.caFingerprint.slice(0, 11)}…` : '';
  // Counters first, the sparkline gets what width is left: at 80 columns the warning count must stay visible.
  const counters: Array<[label: string, value: number, color?: string]> = [
    ['devices', c.devices],
    ['sessions', c.sessions],
    ['exchanges', c.exchanges],
    ['NotNow', c.notNow, theme.notnow],
    ['push owed', c.openObligations, theme.owed],
    ['warnings', c.warnings, c.warnings ? theme.warning : undefined],
  ];
  const countersWidth = counters.map(([label, value]) => `${label} ${value}`).join('  ').length;
  const rateText = `  ${rate}/s `;
  const spark = sparkline(snap.rate.slice(-Math.max(0, Math.min(20, width - countersWidth - rateText.length))));
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold color={theme.accent}>mdmtap</Text>
        {paused ? <Text inverse> PAUSED </Text> : null} {where}  {capture}  {ca}
      </Text>
      <Text wrap="truncate">
        {counters.map(([label, value, color], i) => (
          <React.Fragment key={label}>
            {i ? '  ' : ''}
            {label} <Text color={color}>{value}</Text>
          </React.Fragment>
        ))}
        {rateText}
        {spark}
      </Text>
      <Text wrap="truncate" dimColor={theme.dim}>
        push grace {grace}
        {info.pushObservable ? '  pushes observed via APNs interception' : '  pushes not observable: a return of the device is the only proof of a push'}
        {info.note ? `  · ${info.note}` : ''}
      </Text>
    </Box>
  );
}
