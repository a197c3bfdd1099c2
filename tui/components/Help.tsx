import React from 'react';
import { Box, Text } from 'ink';
import { wrap } from '../format.js';

export const KEYS: Array<[string, string]> = [
  ['↑/↓, j/k', 'move the selection (it stays on the same device or exchange while rows move)'],
  ['Tab', 'next pane (warnings, devices, exchanges)'],
  ['Enter', 'open: a warning in full, a device timeline, or an exchange in detail'],
  ['Esc', 'back'],
  ['/', 'filter by device, request type, status or rule (Enter keeps it, Esc clears)'],
  ['w', 'warnings only: devices with a push owed or a warning, NotNow exchanges'],
  ['s', 'sort the devices by another column'],
  ['p', 'pause / resume the display (traffic keeps flowing; live runs only)'],
  ['?', 'this help'],
  ['q, Ctrl-C', 'quit (the capture is flushed first)'],
];

const STATES = 'States: idle · in session · will poll (ended on NotNow) · push owed (countdown) · stranded (no push by the deadline)';
const KEY_W = 11;

/** The help screen's lines at a width: descriptions wrap under themselves instead of being cut. */
export function helpLines(width: number): string[] {
  const lines = ['Keys'];
  for (const [k, v] of KEYS) {
    const body = wrap(v, Math.max(10, width - KEY_W - 1));
    body.forEach((l, i) => lines.push(`${(i ? '' : k).padEnd(KEY_W)} ${l}`));
  }
  lines.push('', ...wrap(STATES, width));
  return lines;
}

export function Help({ height, width }: { height: number; width: number }) {
  const lines = helpLines(width);
  return (
    <Box flexDirection="column" height={height}>
      {lines.slice(0, height).map((l, i) => (
        <Text key={i} bold={i === 0} wrap="truncate">
          {l}
        </Text>
      ))}
    </Box>
  );
}
