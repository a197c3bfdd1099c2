import React from 'react';
import { Box, Text } from 'ink';
import type { WarningRow } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { age, channelLabel, mark, middle } from '../format.js';
import { idWidth } from './DevicesTable.js';
import { RULES } from '../../src/analysis/registry.js';

/** The rule column fits every registered rule's id, so the identities after it stay aligned. */
const LONGEST_RULE = Math.max(...RULES.map((r) => r.id.length));

/** Newest warnings first (the caller orders them); resolved ones dimmed, with how they resolved. Enter opens one in full. */
export function WarningsPanel(props: { rows: readonly WarningRow[]; open: number; now: number; height: number; width: number; theme: Theme; focused: boolean; selected: number; start: number; note?: string }) {
  const { rows, open, now, height, width, theme, focused, selected, start, note } = props;
  const page = rows.slice(start, start + Math.max(0, height - 1));
  const ruleW = Math.min(LONGEST_RULE, page.reduce((n, w) => Math.max(n, w.rule.length), 4));
  // Gutter, mark, rule, channel, age and the spaces between: what the identity and the message share.
  const others = 2 + 2 + ruleW + 1 + 5 + 5;
  const idW = idWidth(page.map((w) => w.udid), width, others + 40);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse={focused} wrap="truncate">
        Warnings ({open} open){note ? ` · ${note}` : ''}
      </Text>
      {rows.length === 0 ? <Text dimColor={theme.dim}>none yet</Text> : null}
      {page.map((w, i) => (
        <Text key={w.id} wrap="truncate" inverse={focused && start + i === selected} dimColor={theme.dim && Boolean(w.resolved)} color={w.resolved ? theme.resolved : w.severity === 'warning' ? theme.warning : undefined}>
          {mark(focused && start + i === selected)}{w.resolved ? '✓' : w.severity === 'warning' ? '!' : 'i'} {w.rule.padEnd(ruleW)} {middle(w.udid, idW).padEnd(idW)} {channelLabel(w.channel).padEnd(4)} {age(now - w.ts).padStart(4)}{' '}
          {w.resolved ? `resolved by ${w.resolved.by}: ` : ''}
          {w.message}
        </Text>
      ))}
    </Box>
  );
}
