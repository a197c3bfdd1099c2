import React from 'react';
import { Box, Text } from 'ink';
import type { DeviceRow } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { age, channelLabel, fit, mark, middle } from '../format.js';

export const SORT_KEYS = ['last seen', 'state', 'NotNow', 'device'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

const STATE_ORDER: Record<string, number> = { stranded: 0, 'push owed': 1, 'in session': 2, 'will poll': 3, idle: 4 };

export function sortDevices(rows: readonly DeviceRow[], key: SortKey): DeviceRow[] {
  const out = [...rows];
  if (key === 'last seen') out.sort((a, b) => b.lastSeen - a.lastSeen || (a.key < b.key ? -1 : 1));
  else if (key === 'state') out.sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || b.lastSeen - a.lastSeen || (a.key < b.key ? -1 : 1));
  else if (key === 'NotNow') out.sort((a, b) => b.notNow - a.notNow || b.lastSeen - a.lastSeen || (a.key < b.key ? -1 : 1));
  else out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}

function stateText(d: DeviceRow, now: number): string {
  if (d.state === 'push owed' && d.deadline !== undefined) return `push owed ${age(d.deadline - now)}`;
  return d.state;
}

/** The columns after the identity and the model: channel, last status, state, NotNow, seen (with their spaces). */
const FIXED = 2 + 1 + 5 + 1 + 1 + 12 + 1 + 16 + 1 + 6 + 1 + 7;

/** The identity column: whole identities when the terminal allows, shortened from the middle only as needed. */
export function idWidth(ids: readonly string[], width: number, others: number): number {
  const longest = ids.reduce((n, id) => Math.max(n, id.length), 6);
  return Math.max(6, Math.min(longest, Math.max(14, width - others)));
}

/** Only the rows that fit are rendered, whatever the fleet size; the window is placed by the caller. */
export function DevicesTable(props: {
  rows: readonly DeviceRow[];
  now: number;
  height: number;
  width: number;
  theme: Theme;
  focused: boolean;
  selected: number;
  start: number;
  sort: SortKey;
  note?: string;
}) {
  const { rows, now, height, width, theme, focused, selected, start, sort, note } = props;
  const visible = Math.max(0, height - 2);
  const page = rows.slice(start, start + visible);
  const colour = (d: DeviceRow) => (d.state === 'stranded' ? theme.warning : d.state === 'push owed' ? theme.owed : undefined);
  const idW = idWidth(page.map((d) => d.udid), width, FIXED + 16);
  const flex = Math.max(8, width - FIXED - idW);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse={focused} wrap="truncate">
        Devices ({rows.length}) sorted by {sort} (s){note ? ` · ${note}` : ''}
      </Text>
      <Text dimColor={theme.dim} wrap="truncate">
        {'  '}{fit('device', idW)} {fit('ch', 5)} {fit('model / OS', flex)} {fit('last status', 12)} {fit('state', 16)} {fit('NotNow', 6)} {fit('seen', 7)}
      </Text>
      {page.map((d, i) => (
        <Text key={d.key} wrap="truncate" inverse={focused && start + i === selected}>
          {mark(focused && start + i === selected)}{fit(middle(d.udid, idW), idW)} {fit(channelLabel(d.channel), 5)} {fit([d.userShortName ? `user ${d.userShortName}` : undefined, d.model, d.osVersion ?? d.platform].filter(Boolean).join(' '), flex)}{' '}
          <Text color={d.lastStatus === 'NotNow' ? theme.notnow : undefined}>{fit(d.lastStatus ?? '', 12)}</Text>{' '}
          <Text color={colour(d)}>{fit(stateText(d, now), 16)}</Text> {fit(String(d.notNow), 6)} {fit(age(now - d.lastSeen), 7)}
        </Text>
      ))}
    </Box>
  );
}
