import React from 'react';
import { Box, Text } from 'ink';
import type { ExchangeDetail as Detail } from '../state/dashboard-store.js';
import type { PlistValue } from '../../src/plist/value.js';
import { isDict } from '../../src/plist/value.js';
import type { Theme } from '../theme.js';
import { clock } from '../format.js';

/** A decoded plist as indented lines (already redacted by the store). */
export function treeLines(v: PlistValue | undefined, indent = '  ', out: string[] = [], label = ''): string[] {
  if (v === undefined) return out;
  const head = label ? `${indent}${label}: ` : indent;
  if (Array.isArray(v)) {
    out.push(`${head}[${v.length}]`);
    v.forEach((x, i) => treeLines(x, indent + '  ', out, String(i)));
  } else if (isDict(v)) {
    out.push(`${head}{${Object.keys(v).length}}`);
    for (const k of Object.keys(v)) treeLines(v[k], indent + '  ', out, k);
  } else if (v instanceof Uint8Array) out.push(`${head}<${v.length} bytes>`);
  else if (v instanceof Date) out.push(`${head}${v.toISOString()}`);
  else out.push(`${head}${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return out;
}

export function detailLines(d: Detail): string[] {
  const lines = [`${d.method} https://${d.host}${d.path} → HTTP ${d.httpStatus}  (${clock(d.ts)})`];
  if (d.note) lines.push(`note: ${d.note}`);
  if (d.command) {
    const c = d.command;
    lines.push(`command: ${c.requestType}${c.title ? ` (${c.title})` : " (not in mdmtap's copy of Apple's schemas)"}`);
    if (c.support) lines.push(`  Apple supports it on ${c.support}`);
    if (c.unsupported) lines.push(`  ! ${c.unsupported}`);
  }
  lines.push('request headers:');
  for (const [k, v] of Object.entries(d.requestHeaders)) lines.push(`  ${k}: ${v}`);
  lines.push('request body:');
  if (d.request === undefined) lines.push('  (none or undecodable)');
  treeLines(d.request, '  ', lines);
  lines.push('response headers:');
  for (const [k, v] of Object.entries(d.responseHeaders)) lines.push(`  ${k}: ${v}`);
  lines.push('response body:');
  if (d.response === undefined) lines.push(d.httpStatus === 200 ? '  (empty: end of session, or not decodable)' : '  (none)');
  treeLines(d.response, '  ', lines);
  return lines;
}

/** Scrollable: ↑/↓ move the window. */
export function ExchangeDetail(props: { detail: Detail | undefined; height: number; width: number; theme: Theme; scroll: number }) {
  const { detail, height, width, theme, scroll } = props;
  const lines = detail ? detailLines(detail) : ['This exchange is no longer in memory (only the latest 2,000 are kept).'];
  const visible = Math.max(0, height - 1);
  const start = Math.max(0, Math.min(scroll, lines.length - visible));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text dimColor={theme.dim} wrap="truncate">
        Exchange detail (secrets redacted) · ↑/↓ scroll · Esc back · {lines.length} lines
      </Text>
      {lines.slice(start, start + visible).map((l, i) => (
        <Text key={start + i} wrap="truncate">
          {l}
        </Text>
      ))}
    </Box>
  );
}
