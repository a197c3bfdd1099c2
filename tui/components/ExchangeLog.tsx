import React from 'react';
import { Box, Text } from 'ink';
import { replyText, type LogLine } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { clock, mark, middle } from '../format.js';
import { idWidth } from './DevicesTable.js';

/**
 * The live log as a bounded pane rather than Ink's <Static>: the dashboard redraws a fixed-height screen, and
 * <Static> output would scroll it away. Newest at the bottom; the caller places the window (following the newest
 * line, or holding the selected one in place).
 */
export function ExchangeLog(props: { lines: readonly LogLine[]; height: number; width: number; theme: Theme; focused: boolean; selected: number; start: number; following: boolean; note?: string }) {
  const { lines, height, width, theme, focused, selected, start, following, note } = props;
  const page = lines.slice(start, start + Math.max(0, height - 1));
  const idW = idWidth(page.map((l) => l.udid), width, 2 + 9 + 3 + 48);
  const below = lines.length - (start + page.length);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse={focused} wrap="truncate">
        Exchanges{following ? '' : ` · held${below > 0 ? ` (${below} newer below)` : ''}: ↓ to the newest follows again`}{note ? ` · ${note}` : ''}
      </Text>
      {page.map((l, i) => {
        const idx = start + i;
        return (
          <Text key={l.exchangeId} wrap="truncate" inverse={focused && idx === selected}>
            {mark(focused && idx === selected)}{clock(l.ts)} {middle(l.udid, idW).padEnd(idW)}{l.channel === 'user' ? ' u' : '  '}{' '}
            <Text color={l.what === 'NotNow' ? theme.notnow : l.httpStatus >= 400 || l.httpStatus === 0 ? theme.warning : undefined} bold={l.what === 'NotNow'}>
              {l.what}
            </Text>
            {l.answers ? ` (${l.answers})` : ''} → {replyText(l)}
          </Text>
        );
      })}
    </Box>
  );
}
