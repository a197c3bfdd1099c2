import React from 'react';
import { Box, Text } from 'ink';
import type { DeviceRow, TimelineEntry } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { clock, mark } from '../format.js';
import { describeDdmState, describeDeclaration } from '../../src/analysis/ddm-text.js';

/**
 * One device channel, in order: each exchange, each session's outcome, obligations, pushes, warnings and DDM syncs;
 * above them, when the channel does DDM, its declarations as the latest status report gives them (at most a third
 * of the height).
 */
export function DeviceTimeline(props: { device: DeviceRow; entries: readonly TimelineEntry[]; height: number; width: number; theme: Theme; selected: number }) {
  const { device, entries, height, width, theme, selected } = props;
  const ddm = device.ddm ? ddmLines(device, Math.max(1, Math.floor((height - 2) / 3))) : [];
  const visible = Math.max(0, height - 2 - ddm.length);
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
      {ddm.map((l, i) => (
        <Text key={`ddm-${i}`} wrap="truncate" color={l.invalid ? theme.warning : undefined}>
          {l.text}
        </Text>
      ))}
      {entries.slice(start, start + visible).map((e, i) => (
        <Text key={start + i} wrap="truncate" inverse={start + i === selected} color={tone(e)} dimColor={theme.dim && e.tone === 'dim'}>
          {mark(start + i === selected)}{clock(e.ts)} {e.kind === 'exchange' ? '  ' : '» '}
          {e.text}
        </Text>
      ))}
    </Box>
  );
}

function ddmLines(device: DeviceRow, room: number): Array<{ text: string; invalid?: boolean }> {
  const d = device.ddm!;
  const out: Array<{ text: string; invalid?: boolean }> = [{ text: describeDdmState(d, (ms) => clock(ms)) }];
  // Invalid declarations first: they are what a person opens this for.
  const decls = [...d.declarations].sort((a, b) => Number(b.valid === 'invalid') - Number(a.valid === 'invalid'));
  const fit = decls.length + 1 <= room ? decls.length : Math.max(0, room - 2);
  for (const x of decls.slice(0, fit)) out.push({ text: `  ${describeDeclaration(x)}`, ...(x.valid === 'invalid' ? { invalid: true } : {}) });
  if (fit < decls.length) out.push({ text: `  … ${decls.length - fit} more declaration${decls.length - fit === 1 ? '' : 's'}` });
  return out;
}
