import React from 'react';
import { Box, Text } from 'ink';
import type { WarningRow } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { age, clock, wrap } from '../format.js';

/** A warning in full: every field, and its message wrapped to the terminal instead of cut. */
export function warningLines(w: WarningRow, now: number, width: number): string[] {
  const lines = [
    `${w.severity === 'warning' ? 'WARNING' : 'info'} ${w.rule} · raised ${clock(w.ts)} (${age(now - w.ts)} ago)${w.resolved ? ` · resolved by ${w.resolved.by} at ${clock(w.resolved.ts)}` : ''}`,
    `device ${w.udid} · ${w.channel} channel${w.userId ? ` · user ${w.userId}` : ''}${w.host ? ` · server ${w.host}` : ''}`,
  ];
  if (w.sessionId) lines.push(`session ${w.sessionId}`);
  if (w.commandUUIDs?.length) lines.push(`commands ${w.commandUUIDs.join(', ')}`);
  lines.push('', ...wrap(w.message, width));
  if (w.detail && Object.keys(w.detail).length) {
    lines.push('');
    for (const [k, v] of Object.entries(w.detail)) lines.push(...wrap(`${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`, width));
  }
  return lines;
}

export function WarningDetail(props: { warning: WarningRow | undefined; now: number; height: number; width: number; theme: Theme; scroll: number }) {
  const { warning, now, height, width, theme, scroll } = props;
  const lines = warning ? warningLines(warning, now, width) : ['This warning is no longer in memory (only the latest 500 are kept).'];
  const visible = Math.max(0, height - 1);
  const start = Math.max(0, Math.min(scroll, lines.length - visible));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text dimColor={theme.dim} wrap="truncate">
        Warning · Enter: device timeline · ↑/↓ scroll · Esc back
      </Text>
      {lines.slice(start, start + visible).map((l, i) => (
        <Text key={start + i} wrap="truncate" color={i + start === 0 ? (warning?.severity === 'warning' && !warning.resolved ? theme.warning : undefined) : undefined}>
          {l}
        </Text>
      ))}
    </Box>
  );
}
