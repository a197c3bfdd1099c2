import React from 'react';
import { Box, Text } from 'ink';
import { replyText, type LogLine } from '../state/dashboard-store.js';
import type { Theme } from '../theme.js';
import { clock, mark, shortId } from '../format.js';

/**
 * The live log as a bounded pane rather than Ink's <Static>: the dashboard redraws a fixed-height screen, and
 * <Static> output would scroll it away. Newest at the bottom; the selection walks back through history.
 */
export function ExchangeLog(props: { lines: readonly LogLine[]; height: number; width: number; theme: Theme; focused: boolean; selected: number }) {
  const { lines, height, width, theme, focused, selected } = props;
  const visible = Math.max(0, height - 1);
  // `selected` counts back from the newest line.
  const end = Math.max(0, lines.length - Math.max(0, selected - visible + 1));
  const page = lines.slice(Math.max(0, end - visible), end);
  const selIndex = lines.length - 1 - selected;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse={focused} wrap="truncate">
        Exchanges
      </Text>
      {page.map((l, i) => {
        const idx = end - page.length + i;
        return (
          <Text key={l.exchangeId + idx} wrap="truncate" inverse={focused && idx === selIndex}>
            {mark(focused && idx === selIndex)}{clock(l.ts)} {shortId(l.udid)}{l.channel === 'user' ? ' u' : '  '}{' '}
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
