import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RULES, SETTINGS, defaultSettings, settingsIn } from '../../src/analysis/registry.js';
import { formatDuration } from '../../src/util/duration.js';

/** The rows of the markdown table under `heading`: cells with their backticks removed. */
function tableAfter(file: string, heading: RegExp): string[][] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.findIndex((l) => heading.test(l));
  expect(start, `${file} has a heading matching ${heading}`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('|')) {
      inTable = true;
      rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
    } else if (inTable) break;
  }
  return rows.slice(2); // header and separator
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

describe('the rule registry and its documentation', () => {
  it("README's rules table is the registry: id, severity and summary, in order", () => {
    const rows = tableAfter('README.md', /^## Rules/);
    expect(rows.map(([id, severity, summary]) => ({ id: unquote(id!), severity, summary }))).toEqual(RULES.map((r) => ({ id: r.id, severity: r.severity, summary: r.summary })));
  });

  it("design.md's rules table names the same rules with the same severities", () => {
    const rows = tableAfter('docs/design.md', /^## Rules/);
    expect(rows.map(([id, severity]) => ({ id: unquote(id!), severity }))).toEqual(RULES.map((r) => ({ id: r.id, severity: r.severity })));
  });

  it('rule ids are unique and kebab-case, and each lives in the file named after it', () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    for (const r of RULES) {
      expect(r.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(readFileSync(`src/analysis/rules/${r.id}.ts`, 'utf8')).toContain(`id: '${r.id}'`);
    }
  });

  it('every setting has a unique flag, and the README lists it with its default', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(new Set(SETTINGS.map((s) => s.flag)).size).toBe(SETTINGS.length);
    for (const s of SETTINGS) expect(readme).toContain(`| \`${s.flag} DURATION\` | \`${formatDuration(s.default)}\` |`);
  });

  it('settingsIn keeps known positive settings only', () => {
    const d = defaultSettings();
    expect(Object.keys(d).sort()).toEqual(SETTINGS.map((s) => s.key).sort());
    expect(settingsIn({ pushGraceMs: 5000, sessionTimeoutMs: -1, bogusMs: 7, returnWindowMs: 'x' })).toEqual({ pushGraceMs: 5000 });
  });
});
