import { describe, expect, it } from 'vitest';
import * as plist from 'plist';
import { KeyScanner, scanKeys } from '../../src/plist/key-scan.js';
import { BodyTap } from '../../src/proxy/body-tap.js';
import { CopyBudget } from '../../src/proxy/copy-budget.js';
import { decodePlist } from '../../src/plist/decode.js';
import type { PlistDict, PlistValue, Selection } from '../../src/plist/value.js';
import { isDict } from '../../src/plist/value.js';
import { fixture, fixtureFiles } from '../helpers/fixtures.js';
import { rng } from '../helpers/rng.js';

const SEL: Selection = {
  MessageType: true, Status: true, UDID: true, CommandUUID: true, UserID: true, UserShortName: true,
  Command: { RequestType: true }, QueryResponses: { ProductName: true, OSVersion: true, SerialNumber: true },
};

/** What the scanner should find: the full decode projected onto the selection, scalars only (strings, integers, booleans). */
function expected(v: PlistValue, sel: Selection): PlistDict | undefined {
  if (!isDict(v)) return undefined;
  const out: PlistDict = {};
  for (const [k, s] of Object.entries(sel)) {
    if (!Object.hasOwn(v, k)) continue;
    const x = v[k];
    if (s === true) {
      if (typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isSafeInteger(x))) out[k] = x;
    } else if (isDict(x)) out[k] = expected(x, s)!;
  }
  return out;
}

function chunked(body: Uint8Array, size: number, sel = SEL) {
  const s = new KeyScanner(sel);
  for (let i = 0; i < body.length; i += size) s.write(body.subarray(i, i + size));
  return s.end();
}

/**
 * An Acknowledged InstalledApplicationList report as Apple writes it: keys sorted, so the identity comes after the
 * big array. Written as text (plist.build takes seconds for this size); decodePlist checks it is a real plist.
 */
function bigReport(apps: number): Buffer {
  const app = (i: number) =>
    `<dict><key>BundleSize</key><integer>${1000 + i}</integer><key>Identifier</key><string>com.example.app${i}</string>` +
    `<key>Name</key><string>App &lt;${i}&gt; &amp; "friends"</string><key>ShortVersion</key><string>1.0</string></dict>`;
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict><key>CommandUUID</key><string>CMD-LIST-1</string>'];
  parts.push('<key>InstalledApplicationList</key><array>');
  for (let i = 0; i < apps; i++) parts.push(app(i));
  parts.push('</array><key>Status</key><string>Acknowledged</string><key>UDID</key><string>00008030-001A2B3C4D5E802E</string></dict>\n</plist>\n');
  return Buffer.from(parts.join(''));
}

const IDENTITY = { CommandUUID: 'CMD-LIST-1', Status: 'Acknowledged', UDID: '00008030-001A2B3C4D5E802E' };

describe('KeyScanner: the identifying keys of a body, read as it streams past', () => {
  it('finds on every fixture, in chunks of any size, what the full decode finds', () => {
    for (const f of fixtureFiles()) {
      const bytes = fixture(f);
      const full = decodePlist(bytes);
      expect(full.ok, f).toBe(true);
      if (!full.ok) continue;
      for (const size of [1, 2, 7, 61, 4096, bytes.length]) expect(chunked(bytes, size).keys, `${f} in ${size}-byte chunks`).toStrictEqual(expected(full.value, SEL));
    }
  });

  it('agrees with the decoder on 300 generated documents, pretty or not, with comments and CDATA', () => {
    const next = rng(99);
    const str = () => ['Idle', 'NotNow', 'a&b', '<tag>', 'ünïcødé', ']]>', '--', ''][Math.floor(next() * 8)];
    for (let i = 0; i < 300; i++) {
      const v: Record<string, unknown> = {};
      if (next() < 0.5) v.Big = Array.from({ length: Math.floor(next() * 20) }, (_, j) => ({ Status: `nested-${j}`, UDID: 'not-this-one', n: j }));
      if (next() < 0.7) v.Status = str();
      if (next() < 0.7) v.UDID = `U-${i}`;
      if (next() < 0.3) v.CommandUUID = next() < 0.5 ? 42 : true;
      if (next() < 0.5) v.Command = { RequestType: str(), Payload: Buffer.from('x'.repeat(Math.floor(next() * 50))) };
      if (next() < 0.3) v.QueryResponses = { OSVersion: '18.1', Nested: { OSVersion: 'no' } };
      let xml = plist.build(v as plist.PlistValue, { pretty: next() < 0.5 });
      if (next() < 0.3) xml = xml.replace('<dict>', '<dict><!-- <key>UDID</key><string>comment</string> -->');
      if (next() < 0.3) xml = xml.replace(/<string>Idle<\/string>/g, '<string><![CDATA[Idle]]></string>');
      const bytes = Buffer.from(xml);
      const full = decodePlist(bytes);
      expect(full.ok).toBe(true);
      if (!full.ok) continue;
      const size = 1 + Math.floor(next() * 200);
      expect(chunked(bytes, size).keys, `doc ${i}, chunks of ${size}`).toStrictEqual(expected(full.value, SEL));
    }
  });

  it('reads Status and UDID after a multi-megabyte InstalledApplicationList', () => {
    const body = bigReport(40_000);
    expect(body.length).toBeGreaterThan(5 * 1024 * 1024);
    expect(decodePlist(body, SEL)).toStrictEqual({ ok: true, value: IDENTITY });
    expect(chunked(body, 65_536).keys).toStrictEqual(IDENTITY);
  });

  it('keeps text split across chunk boundaries, entities and all', () => {
    const body = Buffer.from(plist.build({ Status: 'Acknowledged', UDID: 'A&B<C>' } as plist.PlistValue));
    for (let size = 1; size < 12; size++) expect(chunked(body, size).keys).toStrictEqual({ Status: 'Acknowledged', UDID: 'A&B<C>' });
  });

  it('a binary plist: its identity read through the head and tail it keeps, or "outside" — never a guess', () => {
    const bin = Buffer.from(plist.buildBinary(plist.parse(bigReport(3000).toString('utf8'))));
    expect(bin.length).toBeGreaterThan(200 * 1024);
    const s = new KeyScanner(SEL, { binaryHead: 4096, binaryTail: 96 * 1024 });
    for (let i = 0; i < bin.length; i += 8192) s.write(bin.subarray(i, i + 8192));
    expect(s.end().keys).toStrictEqual(IDENTITY);
    // With a tail too short for the offset table, the scanner says so.
    const short = scanKeys(bin, SEL, { binaryHead: 4096, binaryTail: 8 * 1024 });
    expect(short.keys).toBeUndefined();
    expect(short.problem).toMatch(/outside the bytes kept/);
  });

  it('what the scan of a binary body holds is taken from the copy budget, and given back (BodyTap)', () => {
    const bin = Buffer.from(plist.buildBinary(plist.parse(bigReport(3000).toString('utf8'))));
    const feed = (tap: BodyTap) => {
      for (let i = 0; i < bin.length; i += 8192) tap.write(bin.subarray(i, i + 8192));
    };
    // A cap of 1 KB: the rest of the body is scanned, and the scanner's window is charged.
    const roomy = new CopyBudget(64 * 1024 * 1024, () => {});
    const tap = new BodyTap(1024, roomy, SEL);
    feed(tap);
    expect(roomy.inFlight).toBeGreaterThan(bin.length / 2);
    expect(tap.scan()?.keys).toStrictEqual(IDENTITY);
    tap.release();
    expect(roomy.inFlight).toBe(0);
    // A budget too small for the window: the scan is given up and says why, and nothing stays charged.
    const tight = new CopyBudget(64 * 1024, () => {});
    const starved = new BodyTap(1024, tight, SEL);
    feed(starved);
    expect(starved.scan()).toEqual({ problem: expect.stringMatching(/--body-budget/) });
    starved.release();
    expect(tight.inFlight).toBe(0);
  });

  it('says why instead of guessing: broken, foreign or unbalanced input', () => {
    expect(scanKeys(Buffer.from('hello world, not xml'), SEL).keys).toStrictEqual(undefined);
    const unbalanced = scanKeys(Buffer.from('<plist><dict><key>UDID</key><string>x</string></array></dict></plist>'), SEL);
    expect(unbalanced.keys).toBeUndefined();
    expect(unbalanced.problem).toMatch(/unbalanced|closes/);
    const longTag = scanKeys(Buffer.from(`<plist><dict ${'a'.repeat(10_000)}>`), SEL);
    expect(longTag.problem).toMatch(/longer than 4 KB/);
    // A value too long to be an identity is passed over, and does not attach to the next key.
    const long = scanKeys(Buffer.from(plist.build({ UDID: 'x'.repeat(10_000), Status: 'Idle' } as plist.PlistValue)), SEL);
    expect(long.keys).toStrictEqual({ Status: 'Idle' });
    expect(scanKeys(Buffer.from('bplist00'), SEL).problem).toMatch(/trailer/);
  });
});
