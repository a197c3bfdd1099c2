import React from 'react';
import { Box, Text } from 'ink';
import type { DeviceRow, TimelineEntry } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { clock, mark } from '../format.js';

/** One device channel, in order: each exchange, each session's outcome, obligations, pushes and warnings. */
export function DeviceTimeline(props: { device: DeviceRow; entries: readonly TimelineEntry[]; height: number; width: number; theme: Theme; selected: number }) {
  const { device, entries, height, width, theme, selected } = props;
  const visible = Math.max(0, height - 2);
  const start = Math.max(0, Math.min(selected - Math.floor(visible / 2), entries.length - visible));
  const tone = (e: TimelineEntry) =>
    e.tone === 'warning' ? theme.warning : e.tone === 'owed' ? theme.owed : e.tone === 'resolved' ? theme.resolved : e.tone === 'notnow' ? theme.notnow : undefined;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate">
        {device.udid} · {device.channel}
        {device.userId ? ` ${device.userId}` : ''} · {[device.model, device.osVersion ?? device.platform].filter(Boolean).join(' ') || 'model unknown'} · {device.state}
      </Text>
      <Text dimColor={theme.dim} wrap="truncate">
        Enter: exchange detail · Esc: back · {entries.length} entries
      </Text>
      {entries.slice(start, start + visible).map((e, i) => (
        <Text key={start + i} wrap="truncate" inverse={start + i === selected} color={tone(e)} dimColor={theme.dim && e.tone === 'dim'}>
          {mark(start + i === selected)}{clock(e.ts)} {e.kind === 'exchange' ? '  ' : '» '}
          {e.text}
        </Text>
      ))}
    </Box>
  );
}
