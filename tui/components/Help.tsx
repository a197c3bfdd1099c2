import React from 'react';
import { Box, Text } from 'ink';

export const KEYS: Array<[string, string]> = [
  ['↑/↓, j/k', 'move the selection'],
  ['Tab', 'next pane (warnings, devices, exchanges)'],
  ['Enter', 'open: a device timeline, or an exchange in detail'],
  ['Esc', 'back'],
  ['/', 'filter by device, request type, status or rule (Enter keeps it, Esc clears)'],
  ['w', 'warnings only: devices with a push owed or a warning, NotNow exchanges'],
  ['s', 'sort the devices by another column'],
  ['p', 'pause / resume the display (traffic keeps flowing)'],
  ['?', 'this help'],
  ['q, Ctrl-C', 'quit (the capture is flushed first)'],
];

export function Help({ height }: { height: number }) {
  return (
    <Box flexDirection="column" height={height}>
      <Text bold>Keys</Text>
      {KEYS.slice(0, Math.max(0, height - 3)).map(([k, v]) => (
        <Text key={k} wrap="truncate">
          {k.padEnd(12)} {v}
        </Text>
      ))}
      <Text wrap="truncate">States: idle · in session · will poll (ended on NotNow) · push owed (countdown) · stranded (warning)</Text>
    </Box>
  );
}
