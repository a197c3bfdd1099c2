/**
 * HAR exports as other tools read them: valid against the HAR 1.2 JSON schema (the har-schema package), text
 * bodies as text, binary bodies in base64 where the spec allows it, APNs pushes at APNs's real URL, and mdmtap's
 * own data under `_mdmtap` — and the export re-analyses to the capture's verdicts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import * as plist from 'plist';
import { openCaptureStore } from '../../src/store/capture-store.js';
import { openCaptureReadonly } from '../../src/store/reader.js';
import { exportHar } from '../../src/store/export.js';
import { LivePipeline } from '../../src/live/pipeline.js';
import { storeSink } from '../../src/sinks/capture.js';
import { loadCapture } from '../../src/replay/load.js';
import { replay } from '../../src/replay/replayer.js';
import type { Exchange } from '../../src/model/exchange.js';
import type { AnalyzerEvent } from '../../src/model/events.js';
import { sha256Hex } from '../../src/mdm/hash.js';
import { tempDir } from '../helpers/tls-peers.js';
import { checkin, commandBody, idle, status, UDID } from '../helpers/mdm-bodies.js';

const require = createRequire(import.meta.url);
const dirs: Array<{ remove(): void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

/** A validator of the whole HAR 1.2 document, from the maintained har-schema package. */
function harValidator() {
  const schemas = require('har-schema') as Record<string, object>;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  for (const [name, schema] of Object.entries(schemas)) if (name !== 'har') ajv.addSchema(schema);
  return ajv.compile(schemas.har);
}

const T0 = Date.parse('2026-11-25T09:00:00Z');
let seq = 0;
function exchange(requestBody: Buffer, responseBody: Buffer, over: Partial<Exchange> = {}): Exchange {
  seq++;
  return {
    id: `h${seq}`, connectionId: 'c1', startedAt: T0 + seq * 1000, endedAt: T0 + seq * 1000 + 20, host: 'mdm.example.com', method: 'PUT', path: '/mdm?x=1',
    requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm' }, requestBody, requestTruncated: false,
    status: 200, responseHeaders: { 'content-type': 'application/xml' }, responseBody, responseTruncated: false, ...over,
  };
}

describe('HAR export', () => {
  it('is HAR 1.2 by the schema: text bodies as text, binary in base64, APNs URLs, _mdmtap fields; and it replays alike', async () => {
    const d = tempDir('mdmtap-har-');
    dirs.push(d);
    const file = join(d.dir, 'cap.sqlite');
    let now = T0;
    const store = openCaptureStore(file, { keepSecrets: false, bodies: true, onError: () => {}, run: { version: 'test', options: { pushGrace: 60_000 } } });
    const pipeline = new LivePipeline({ pushGraceMs: 60_000, now: () => now });
    pipeline.addSink(storeSink(store));
    const live: AnalyzerEvent[] = [];
    pipeline.addSink({ event: (e) => live.push(e) });
    const token = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex');
    const binaryReport = Buffer.from(plist.buildBinary({ CommandUUID: 'B-2', Status: 'Acknowledged', UDID } as plist.PlistValue));
    const traffic = [
      exchange(checkin('TokenUpdate', { Token: token, PushMagic: 'PM-1', Topic: 'com.apple.mgmt.x' }), Buffer.alloc(0), { requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm-checkin' } }),
      exchange(idle(), commandBody('A-1', 'InstallProfile')),
      exchange(status('NotNow', 'A-1'), commandBody('B-2', 'ProfileList')),
      exchange(binaryReport, Buffer.alloc(0)),
      exchange(idle(), Buffer.alloc(0), { status: 0, error: { kind: 'connection-reset', message: 'reset' } }),
    ];
    for (const ex of traffic) pipeline.exchange(ex);
    now = traffic.at(-1)!.endedAt + 5000;
    pipeline.push({ ts: now, tokenHash: sha256Hex(token.toString('hex')), tokenPrefix: '0f1e2d3c', pushMagicHash: sha256Hex('PM-1'), apnsStatus: 200, apnsPriority: '10' });
    now += 200_000;
    await pipeline.close();

    const reader = openCaptureReadonly(file);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await exportHar(reader, {}, out);
    reader.close();
    const text = Buffer.concat(chunks).toString();
    const doc = JSON.parse(text);
    const validate = harValidator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    // A schema that accepted anything would prove nothing: it must reject a broken entry.
    const broken = structuredClone(doc);
    delete broken.log.entries[0].request.method;
    expect(validate(broken)).toBe(false);

    const entries = doc.log.entries as Array<Record<string, any>>;
    expect(doc.log._mdmtap).toMatchObject({ format: 1, pushGraceMs: 60_000 });
    // An XML report is text, exactly as stored; the binary plist is base64, flagged with _encoding.
    expect(entries[1].request.postData).toEqual({ mimeType: 'application/x-apple-aspen-mdm', text: idle().toString() });
    expect(entries[1].response.content).toMatchObject({ mimeType: 'application/xml', text: commandBody('A-1', 'InstallProfile').toString() });
    expect(entries[1].response.content.encoding).toBeUndefined();
    expect(entries[3].request.postData).toMatchObject({ _encoding: 'base64', text: binaryReport.toString('base64') });
    expect(entries[4]._mdmtap.error).toMatchObject({ kind: 'connection-reset' });
    const push = entries.find((e) => e._mdmtap?.push);
    expect(push?.request.url).toBe('https://api.push.apple.com/3/device/0f1e2d3c');
    expect(push?.request.headers).toEqual([{ name: 'apns-priority', value: '10' }]);
    expect(text).not.toContain(token.toString('hex'));

    const har = join(d.dir, 'cap.har');
    writeFileSync(har, text);
    const loaded = await loadCapture(har);
    const again = replay(loaded.messages, loaded.pushes, loaded.recorded ?? {}, loaded.lastTs).events;
    const verdicts = (evs: AnalyzerEvent[]) =>
      evs.filter((e) => ['session', 'obligation', 'warning', 'resolved'].includes(e.type) && !(e.type === 'session' && e.event === 'start')).map((e) => JSON.stringify({ ...e, ts: undefined }));
    expect(verdicts(again)).toEqual(verdicts(live));
    expect(verdicts(live).some((v) => v.includes('"outcome":"stranded"'))).toBe(true);
  });
});
