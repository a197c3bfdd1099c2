/**
 * `npm run bench`: every speed figure mdmtap tracks, side by side, in one run. Prints a table; `--json` writes
 * the figures as JSON to stdout instead. Each part is time-bounded and uses 127.0.0.1 only.
 */
import { benchDecoder } from './decoder.js';
import { benchStore } from './store.js';

interface Section {
  title: string;
  rows: string[][];
  figures: unknown;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const sections: Section[] = [];
  const log = (s: string) => {
    if (!json) process.stdout.write(s);
  };

  log('decoder: MB/s of input, mdmtap vs the plist package …\n');
  const dec = benchDecoder();
  sections.push({
    title: 'Decoder',
    figures: dec,
    rows: [
      ['body', 'bytes', 'mdmtap MB/s', 'plist MB/s', 'mdmtap ms/body', 'speed-up'],
      ...dec.map((d) => [d.case, String(d.bytes), d.oursMBps.toFixed(1), d.plistMBps.toFixed(1), d.oursMsPerDoc.toFixed(2), `${(d.oursMBps / d.plistMBps).toFixed(1)}×`]),
    ],
  });

  log('capture writer: exchanges/s into SQLite with redaction …\n');
  const st = benchStore(3000);
  sections.push({
    title: 'Capture writer (SQLite, WAL, redaction on; every 10th exchange with a 20 KB body)',
    figures: st,
    rows: [
      ['exchanges', 'seconds', 'exchanges/s', 'file MB'],
      [String(st.exchanges), st.seconds.toFixed(2), String(Math.round(st.perSecond)), st.fileMB.toFixed(1)],
    ],
  });

  if (json) {
    process.stdout.write(JSON.stringify({ node: process.version, date: new Date().toISOString(), sections: sections.map((s) => ({ title: s.title, figures: s.figures })) }, null, 2) + '\n');
    return;
  }
  for (const s of sections) process.stdout.write(`\n${s.title}\n${table(s.rows)}\n`);
}

void main();
