/**
 * Decoder throughput: our decoder next to `plist` on the bodies the proxy really sees. Time-bounded per case so
 * the whole run stays short; figures are MB/s of input.
 */
import * as plist from 'plist';
import { decodePlist } from '../src/plist/decode.js';
import type { Exchange } from '../src/model/exchange.js';
import { classify } from '../src/mdm/classify.js';
import { installedApplicationList, statusBodies } from './workload.js';

export interface DecoderFigure {
  case: string;
  bytes: number;
  oursMBps: number;
  plistMBps: number;
  oursMsPerDoc: number;
  /** classify() on the body as the proxy runs it: only the keys the analysis reads are decoded. */
  classifyMBps: number;
  classifyMsPerDoc: number;
}

function rate(fn: () => void, bytes: number, budgetMs: number): { mbps: number; msPerDoc: number } {
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < budgetMs) {
    fn();
    n++;
    t = performance.now();
  }
  const s = (t - t0) / 1000;
  return { mbps: (n * bytes) / s / 1e6, msPerDoc: (t - t0) / n };
}

export function benchDecoder(budgetMs = 1200): DecoderFigure[] {
  const cases: Array<[string, Buffer]> = [
    ['status report (NotNow)', statusBodies.notNow],
    ['InstalledApplicationList 500 KB', installedApplicationList(500_000)],
    ['InstalledApplicationList 1 MB', installedApplicationList(1_000_000)],
    ['InstalledApplicationList 500 KB, binary', Buffer.from(plist.buildBinary(plist.parse(installedApplicationList(500_000).toString())))],
  ];
  return cases.map(([name, body]) => {
    const binary = name.endsWith('binary');
    const ours = rate(() => {
      if (!decodePlist(body).ok) throw new Error('decode failed');
    }, body.length, budgetMs);
    const theirs = rate(() => (binary ? plist.parseBinary(body) : plist.parse(body.toString('utf8'))), body.length, budgetMs);
    const ex: Exchange = {
      id: 'x', connectionId: 'c', startedAt: 0, endedAt: 0, host: 'mdm.example.com', method: 'PUT', path: '/mdm', requestHeaders: {},
      requestBody: body, requestTruncated: false, status: 200, responseHeaders: {}, responseBody: new Uint8Array(0), responseTruncated: false,
    };
    const cls = rate(() => {
      if (classify(ex, { assumeMdm: true })?.endpoint !== 'command') throw new Error('classify failed');
    }, body.length, budgetMs / 2);
    return { case: name, bytes: body.length, oursMBps: ours.mbps, plistMBps: theirs.mbps, oursMsPerDoc: ours.msPerDoc, classifyMBps: cls.mbps, classifyMsPerDoc: cls.msPerDoc };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of benchDecoder()) {
    console.log(`${f.case.padEnd(42)} ${String(f.bytes).padStart(8)} B  mdmtap ${f.oursMBps.toFixed(1).padStart(7)} MB/s  plist ${f.plistMBps.toFixed(1).padStart(6)} MB/s  (${f.oursMsPerDoc.toFixed(2)} ms/doc)`);
  }
}
