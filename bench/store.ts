/**
 * Capture writer throughput: exchanges/s sustained into a real SQLite file (WAL), with redaction on, as
 * `mdmtap start` runs it. Rows are realistic: small status reports, every 10th carrying a ~20 KB response body.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as plist from 'plist';
import type { Exchange } from '../src/model/exchange.js';
import { classify } from '../src/mdm/classify.js';
import type { MdmMessage } from '../src/model/message.js';
import { openCaptureStore } from '../src/store/capture-store.js';
import { installedApplicationList, statusBodies } from './workload.js';

export interface StoreFigure {
  exchanges: number;
  seconds: number;
  perSecond: number;
  fileMB: number;
  /** The capture file's size over the exchanges in it (bodies stored once each: the repeats cost a reference). */
  bytesPerExchange: number;
}

export function benchStore(budgetMs = 4000): StoreFigure {
  const dir = mkdtempSync(join(tmpdir(), 'mdmtap-bench-store-'));
  try {
    const file = join(dir, 'bench.sqlite');
    const big = installedApplicationList(20_000);
    const command = Buffer.from(plist.build({ CommandUUID: '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55', Command: { RequestType: 'InstalledApplicationList' } }));
    const templates: Array<{ ex: Exchange; msg: MdmMessage | undefined }> = [];
    for (let i = 0; i < 10; i++) {
      const ex: Exchange = {
        id: '', connectionId: 'c1', startedAt: 0, endedAt: 0, host: 'mdm.example.com', method: 'PUT', path: '/mdm',
        requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm', 'mdm-signature': 'MIAGCSqGSIb3DQEHAqCAMIACAQEx' },
        requestBody: i === 9 ? big : i % 2 ? statusBodies.notNow : statusBodies.acknowledged, requestTruncated: false,
        status: 200, responseHeaders: { 'content-type': 'application/xml' }, responseBody: i % 3 ? command : new Uint8Array(0), responseTruncated: false,
      };
      templates.push({ ex, msg: classify(ex, { assumeMdm: true }) });
    }
    const errors: string[] = [];
    const store = openCaptureStore(file, { keepSecrets: false, bodies: true, maxQueue: 1_000_000, onError: (e) => errors.push(e.message) });
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < budgetMs) {
      for (let k = 0; k < 1000; k++, n++) {
        const t = templates[n % 10];
        store.recordExchange({ ...t.ex, id: `x${n}`, startedAt: 1_700_000_000_000 + n, endedAt: 1_700_000_000_000 + n + 5 }, t.msg, 's-bench');
      }
      store.flush();
    }
    store.close();
    const seconds = (performance.now() - t0) / 1000;
    if (errors.length) throw new Error(errors[0]);
    const bytes = statSync(file).size;
    return { exchanges: n, seconds, perSecond: n / seconds, fileMB: bytes / 1e6, bytesPerExchange: bytes / n };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


if (import.meta.url === `file://${process.argv[1]}`) {
  const f = benchStore();
  console.log(`capture writer: ${f.exchanges} exchanges in ${f.seconds.toFixed(2)} s = ${Math.round(f.perSecond)} exchanges/s (file ${f.fileMB.toFixed(1)} MB, ${Math.round(f.bytesPerExchange)} bytes per exchange)`);
}
