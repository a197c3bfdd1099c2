import React from 'react';
import { Box, Text } from 'ink';
import type { WarningRow } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { age, channelLabel, mark, shortId } from '../format.js';

/** Newest warnings first; resolved ones dimmed, with how they resolved. */
export function WarningsPanel(props: { warnings: readonly WarningRow[]; now: number; height: number; width: number; theme: Theme; focused: boolean; selected: number }) {
  const { warnings, now, height, width, theme, focused, selected } = props;
  const rows = warnings.slice(-Math.max(0, height - 1)).reverse();
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse={focused} wrap="truncate">
        Warnings ({warnings.filter((w) => !w.resolved && w.severity === 'warning').length} open)
      </Text>
      {rows.length === 0 ? <Text dimColor={theme.dim}>none yet</Text> : null}
      {rows.map((w, i) => (
        <Text key={w.id} wrap="truncate" inverse={focused && i === selected} dimColor={theme.dim && Boolean(w.resolved)} color={w.resolved ? theme.resolved : w.severity === 'warning' ? theme.warning : undefined}>
          {mark(focused && i === selected)}{w.resolved ? '✓' : w.severity === 'warning' ? '!' : 'i'} {w.rule.padEnd(20)} {shortId(w.udid)} {channelLabel(w.channel).padEnd(4)} {age(now - w.ts).padStart(4)}{' '}
          {w.resolved ? `resolved by ${w.resolved.by}: ` : ''}
          {w.message}
        </Text>
      ))}
    </Box>
  );
}
