import { describe, expect, it, vi } from 'vitest';
import * as plist from 'plist';
import { decodePlist } from '../../src/plist/decode.js';
import { decodeXml } from '../../src/plist/xml.js';
import { decodeBinary, isBinaryPlist } from '../../src/plist/binary.js';
import { PlistFail } from '../../src/plist/fail.js';
import type { PlistValue, Selection } from '../../src/plist/value.js';
import { isDict } from '../../src/plist/value.js';
import { fixture, fixtureFiles, plistOracle as oracle } from '../helpers/fixtures.js';
import { rng } from '../helpers/rng.js';
import { assembleBplist } from '../../bench/hostile.js';

function decodeOk(bytes: Uint8Array | string): PlistValue {
  const r = decodePlist(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  if (!r.ok) throw new Error(`decode failed: ${r.error.message}`);
  return r.value;
}

const doc = (inner: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">${inner}</plist>\n`;

describe('XML plists against the plist package', () => {
  const files = fixtureFiles();
  it('has the fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(45);
  });
  for (const f of files) {
    it(`decodes ${f} exactly like plist.parse`, () => {
      const bytes = fixture(f);
      expect(decodeOk(bytes)).toStrictEqual(oracle(bytes.toString('utf8')));
    });
  }

  it('equals plist on 400 generated documents', () => {
    const next = rng(20261125);
    for (let i = 0; i < 400; i++) {
      const value = randomValue(next, 0);
      const xml = plist.build(value as plist.PlistValue, { pretty: next() < 0.5 });
      expect(decodeOk(xml)).toStrictEqual(plist.parse(xml));
      expect(decodeOk(xml)).toStrictEqual(normalise(value));
    }
  });

  it('handles the corners plist handles the same way', () => {
    const cases = [
      '<dict><key>a</key><integer>1</integer><key>a</key><integer>2</integer></dict>',
      '<dict><key>a</key></dict>',
      '<dict><key/><string>x</string></dict>',
      '<dict><!-- c --><key>a</key><!-- c2 --><string>x</string></dict>',
      '<string>a&amp;b&#65;&#x42;&lt;&gt;&quot;&apos;&#128512;&bogus;</string>',
      '<string><![CDATA[x<y&z]]> tail</string>',
      '<string>a\r\nb\rc</string>',
      '<string>  </string>',
      '<array/>', '<dict/>', '<string/>', '<data/>', '<true/>', '<false></false>', '',
      '<string>a</string><string>b</string>',
      '<integer> 12 </integer>', '<integer>-5</integer>', '<real>1e3</real>', '<real>-0.5</real>',
      '<date>2020-01-02T03:04:05Z</date>',
      '<data>\n\tAAECAwQF\n\tBgcICQ==\n\t</data>',
    ];
    for (const c of cases) expect(decodeOk(doc(c)), c).toStrictEqual(plist.parse(doc(c)));
  });

  it('accepts a byte order mark and no declaration', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<plist><dict><key>k</key><true/></dict></plist>')]);
    expect(decodeOk(bytes)).toStrictEqual({ k: true });
  });

  it('keeps integers beyond 2^53 exact as bigint, where plist loses digits', () => {
    expect(decodeOk(doc('<integer>9007199254740993</integer>'))).toBe(9007199254740993n);
    expect(decodeOk(doc('<integer>-18446744073709551615</integer>'))).toBe(-18446744073709551615n);
    expect(decodeOk(doc('<integer>9007199254740991</integer>'))).toBe(9007199254740991);
    expect(decodeOk(doc('<integer>0x1F</integer>'))).toBe(31);
  });

  it('stores a __proto__ key as data, never as a prototype', () => {
    const v = decodeOk(doc('<dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict>')) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });
});

describe('binary plists', () => {
  it('decodes 300 generated bplist00 documents to the value they were built from', () => {
    const next = rng(7);
    for (let i = 0; i < 300; i++) {
      const value = randomValue(next, 0);
      const bytes = plist.buildBinary(value as plist.PlistValue);
      expect(Buffer.from(bytes.subarray(0, 8)).toString()).toBe('bplist00');
      expect(decodeOk(bytes)).toStrictEqual(normalise(value));
    }
  });

  it('decodes the fixtures re-encoded as binary', () => {
    for (const f of fixtureFiles()) {
      const v = oracle(fixture(f).toString('utf8')) as plist.PlistValue;
      expect(decodeOk(plist.buildBinary(v)), f).toStrictEqual(v);
    }
  });

  it('reads 8-byte integers as signed and keeps values past 2^53 as bigint', () => {
    expect(decodeOk(bplist(intObject(-2n)))).toBe(-2);
    expect(decodeOk(bplist(intObject(2n ** 60n + 1n)))).toBe(2n ** 60n + 1n);
    expect(decodeOk(bplist(intObject(-(2n ** 62n))))).toBe(-(2n ** 62n));
  });

  it('reads UIDs as CF$UID dictionaries', () => {
    expect(decodeOk(bplist(Buffer.from([0x80, 0x05])))).toStrictEqual({ CF$UID: 5 });
  });
});

describe('malformed input gives a typed error with an offset, never an exception', () => {
  const xmlCases: Array<[string, string, number?]> = [
    ['garbage', 'hello world'],
    ['truncated', doc('<dict><key>a</key><string>x').slice(0, -12)],
    ['bad tag', doc('<dict><key>a</key><strin>x</strin></dict>')],
    ['mismatched close', doc('<array><string>x</array>')],
    ['unknown element', doc('<foo/>')],
    ['empty integer', doc('<integer/>')],
    ['empty date', doc('<date></date>')],
    ['value without key', doc('<dict><string>x</string></dict>')],
    ['text between elements', doc('<dict>oops<key>a</key><true/></dict>')],
    ['content after the plist', doc('<true/>') + '<more/>'],
    ['unterminated comment', doc('<dict><!-- x')],
    ['empty', ''],
  ];
  for (const [name, text] of xmlCases) {
    it(`XML: ${name}`, () => {
      const r = decodePlist(Buffer.from(text));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.offset).toBeGreaterThanOrEqual(0);
        expect(r.error.offset).toBeLessThanOrEqual(text.length);
        expect(r.error.message).toMatch(/byte \d+|binary|plist/);
      }
    });
  }

  it('points at the offending element', () => {
    const text = doc('<dict><key>a</key><strin>x</strin></dict>');
    const r = decodePlist(Buffer.from(text));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.offset).toBe(text.indexOf('<strin>'));
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    const deep = doc('<array>'.repeat(100_000) + '</array>'.repeat(100_000));
    const r = decodePlist(Buffer.from(deep));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('limit');
  });

  it('binary: truncated, offsets out of range, cycles, huge counts and shared-reference bombs', () => {
    const good = Buffer.from(plist.buildBinary({ a: [1, 2, 3], b: 'x' }));
    const cases: Buffer[] = [
      good.subarray(0, 20),
      good.subarray(0, good.length - 1),
      withTrailer(good, { tableOffset: good.length * 4 }),
      withTrailer(good, { topObject: 999 }),
      withTrailer(good, { offsetSize: 3 }),
      cyclic(),
      hugeCount(),
      referenceBomb(),
    ];
    for (const c of cases) {
      const r = decodePlist(c);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.offset).toBeLessThanOrEqual(c.length);
    }
  });

  it('hostile bodies give up with a limit error instead of expanding: wide reference bombs, shared data, huge integers', () => {
    // Object k: an array of 250 references to object k+1, five levels: 10^12 visits if expanded.
    const wide: Buffer[] = [];
    for (let k = 0; k < 5; k++) wide.push(Buffer.concat([Buffer.from([0xaf, 0x11, 0x00, 0xfa]), Buffer.alloc(250 * 2, 0)]));
    wide.push(Buffer.from([0x09]));
    const bomb = bplist16(wide, (k) => k + 1);
    const r1 = decodePlist(bomb);
    expect(r1.ok === false && r1.error.code).toBe('limit');
    // A 64 KB <data> object referenced from 10,000 places: 640 MB if each reference were copied.
    const data = Buffer.concat([Buffer.from([0x4f, 0x12, 0x00, 0x01, 0x00, 0x00]), Buffer.alloc(65_536, 7)]);
    const shared = bplist16([Buffer.concat([Buffer.from([0xaf, 0x11, 0x27, 0x10]), Buffer.alloc(10_000 * 2, 0)]), data], () => 1);
    const r2 = decodePlist(shared);
    expect(r2.ok === false && r2.error.code).toBe('limit');
    // An <integer> of 16.7 million digits (a bigint parse of it takes seconds).
    const digits = Buffer.concat([Buffer.from('<plist><dict><key>Status</key><integer>'), Buffer.alloc(16_700_000, 0x37), Buffer.from('</integer></dict></plist>')]);
    const r3 = decodePlist(digits);
    expect(r3.ok === false && r3.error).toMatchObject({ code: 'limit', message: expect.stringMatching(/<integer> of more than 256 bytes/) });
    // The caller's own budget: a document with more values than it allows.
    const many = Buffer.from(plist.build({ list: Array.from({ length: 5000 }, (_, i) => i) } as plist.PlistValue));
    expect(decodePlist(many).ok).toBe(true);
    const r4 = decodePlist(many, undefined, { maxObjects: 1000 });
    expect(r4.ok === false && r4.error.code).toBe('limit');
  });
});

describe('corrupted documents: the parsers themselves fail only with a typed error, and agree with plist', () => {
  // decodePlist turns any exception into an error result, so a fuzz test through it could not fail. These call the
  // XML and binary parsers directly: an exception that is not a PlistFail (a RangeError from reading past a
  // buffer, a TypeError from a missing check) is a bug that decodePlist would only hide.
  const CODES = ['not-plist', 'syntax', 'unsupported', 'truncated', 'limit'];
  const SEL: Selection = { UDID: true, Status: true, MessageType: true, CommandUUID: true, Command: { RequestType: true } };

  /** What the parser did: a value, or the typed failure it threw. Anything else thrown fails the test. */
  function parse(bytes: Buffer, select?: Selection): { ok: true; value: PlistValue } | { ok: false; fail: PlistFail } {
    try {
      return { ok: true, value: isBinaryPlist(bytes) ? decodeBinary(bytes, select) : decodeXml(bytes, select) };
    } catch (e) {
      if (!(e instanceof PlistFail)) throw new Error(`the parser threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} (not a PlistFail) on ${bytes.length} bytes: ${bytes.toString('base64').slice(0, 200)}`);
      expect(CODES).toContain(e.code);
      expect(e.offset).toBeGreaterThanOrEqual(0);
      expect(e.offset).toBeLessThanOrEqual(bytes.length);
      return { ok: false, fail: e };
    }
  }

  /** Fragments that steer random edits into the parsers' corners: references, markup, numbers, binary markers. */
  const TOKENS = [
    '&#x110000;', '&#1114112;', '&#0;', '&#xD800;', '&#65;', '&amp;', '&lt;', '&bogus;', '&#x;', '<![CDATA[', ']]>', '<!--', '-->', '</', '/>',
    '<key>', '</key>', '<dict>', '</dict>', '<array/>', '<integer>', '</integer>', '<real>', '<date>', '<data>', '</data>', '<true/>',
    '99999999999999999999999999999', '-0x', '1e400', '2026-13-45T99:99:99Z', '====', '<?xml', '<!DOCTYPE', '\u0000', '\xff\xfe',
  ].map((t) => Buffer.from(t, 'latin1'));
  const MARKERS = [0x0f, 0x13, 0x14, 0x23, 0x33, 0x4f, 0x5f, 0x6f, 0x80, 0x8f, 0xaf, 0xcf, 0xdf, 0xff];

  /** Where a binary plist's objects start (read from its trailer and offset table), so edits can aim at their headers. */
  function objectOffsets(b: Buffer): number[] {
    if (!isBinaryPlist(b)) return [];
    const t = b.length - 32;
    const [size, count, table] = [b[t + 6], Number(b.readBigUInt64BE(t + 8)), Number(b.readBigUInt64BE(t + 24))];
    return Array.from({ length: count }, (_, i) => b.readUIntBE(table + i * size, size));
  }

  /**
   * 1–4 random edits: overwrite, insert or delete a byte, insert a token, duplicate a slice, or cut the document
   * short; in a binary plist also rewrite an object's marker or the length that follows it.
   */
  function corrupt(next: () => number, src: Buffer): Buffer {
    let b = Buffer.from(src);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
    const objects = objectOffsets(b);
    const edits = 1 + Math.floor(next() * 4);
    for (let k = 0; k < edits && b.length > 0; k++) {
      const at = Math.floor(next() * b.length);
      const r = next();
      if (objects.length > 0 && r < 0.3) {
        // Edits of the first kind keep the layout, so every object offset still points at an object header.
        const o = pick(objects);
        if (next() < 0.5) b[o] = (b[o] & 0xf0) | Math.floor(next() * 16);
        else if ((b[o] & 0x0f) === 0x0f && (b[o + 1] & 0xf0) === 0x10) b[o + 2 + Math.floor(next() * (1 << (b[o + 1] & 0x0f)))] = Math.floor(next() * 256);
        else b[o] = pick(MARKERS);
      } else if (r < 0.3) b[at] = Math.floor(next() * 256);
      else if (r < 0.4) b[at] = pick(MARKERS);
      else if (r < 0.5) b = Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(next() * 256)]), b.subarray(at)]);
      else if (r < 0.6) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
      else if (r < 0.8) b = Buffer.concat([b.subarray(0, at), pick(TOKENS), b.subarray(at)]);
      else if (r < 0.9) b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + Math.floor(next() * 64)), b.subarray(at)]);
      else b = b.subarray(0, at);
    }
    return b;
  }

  /**
   * The plist package's reading of an XML document, made as lenient as ours is on purpose: the prolog (declaration,
   * DOCTYPE) and the <plist> tag's attributes are not read by mdmtap, and base64 is decoded leniently.
   */
  function lenientOracle(xml: string): plist.PlistValue {
    const open = /<plist\b[^>]*>/.exec(xml);
    const body = open ? `<plist version="1.0">${xml.slice(open.index + open[0].length)}` : xml;
    return oracle(doc('').replace(/<plist version="1.0"><\/plist>\n$/, '') + body);
  }

  /**
   * Where the oracle has no say: a character reference beyond Unicode is no character (mdmtap keeps it as written,
   * xmldom makes surrogates of it); a reference inside base64 is not resolved by plistOracle's re-encoding; and a
   * tag with a '<' before its '>' (`<key <key>`), which mdmtap reads past like any attribute and xmldom refuses.
   */
  const comparableWithOracle = (text: string) =>
    ![...text.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);/g)].some(([, r]) => (r[0] === 'x' ? parseInt(r.slice(1), 16) : parseInt(r, 10)) > 0x10ffff) &&
    ![...text.matchAll(/<data>([^<]*)<\/data>/g)].some(([, b64]) => b64.includes('&')) &&
    !/<[A-Za-z][^>]*</.test(text);

  /**
   * Values as compared: an invalid date (which both readers make of a malformed <date>) equals another, and an
   * integer past 2^53, which mdmtap keeps exact as a bigint, is compared as the number plist rounds it to.
   */
  function comparable(v: unknown): unknown {
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v;
    if (typeof v === 'bigint') return Number(v);
    if (v instanceof Uint8Array) return new Uint8Array(v);
    if (Array.isArray(v)) return v.map(comparable);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, comparable(x)]));
    return v;
  }

  function isPlistValue(v: unknown): boolean {
    if (['string', 'number', 'bigint', 'boolean'].includes(typeof v)) return true;
    if (v instanceof Date || v instanceof Uint8Array) return true;
    if (Array.isArray(v)) return v.every(isPlistValue);
    return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(isPlistValue);
  }

  /**
   * The parsers' verdict on one document, checked: decodePlist reports exactly it; a value has the plist shape; and a
   * document that decodes whole decodes by selection to the same keys.
   */
  function check(bytes: Buffer): ReturnType<typeof parse> {
    const full = parse(bytes);
    const sel = parse(bytes, SEL);
    expect(decodePlist(bytes)).toStrictEqual(full.ok ? { ok: true, value: full.value } : { ok: false, error: { code: full.fail.code, message: full.fail.message, offset: full.fail.offset } });
    if (full.ok) {
      expect(isPlistValue(full.value)).toBe(true);
      // A binary UID reads as { CF$UID: n } but is no dictionary, so a selection does not apply to it.
      expect(sel.ok && sel.value).toStrictEqual(project(full.value, SEL, isBinaryPlist(bytes) ? isUid : () => false));
    }
    return full;
  }

  const isUid = (v: PlistValue) => isDict(v) && Object.keys(v).length === 1 && typeof v.CF$UID === 'number';

  const gen = rng(98);
  const xmlSources = [...fixtureFiles().map((f) => fixture(f)), ...Array.from({ length: 20 }, () => Buffer.from(plist.build({ UDID: 'U', Status: 'Idle', v: randomValue(gen, 1) } as plist.PlistValue, { pretty: gen() < 0.5 })))];
  const binarySources = xmlSources.map((s) => Buffer.from(plist.buildBinary(oracle(s.toString('utf8')) as plist.PlistValue)));

  it('XML: 1,000 corrupted documents; where the result decodes, plist reads the same value', () => {
    // plist's XML parser logs what it rejects; the test reads its verdicts, not its log.
    const quiet = [vi.spyOn(console, 'error').mockImplementation(() => {}), vi.spyOn(console, 'warn').mockImplementation(() => {}), vi.spyOn(console, 'log').mockImplementation(() => {})];
    const next = rng(99);
    let decoded = 0;
    try {
      for (let i = 0; i < 1000; i++) {
        const bytes = corrupt(next, xmlSources[i % xmlSources.length]);
        if (isBinaryPlist(bytes)) continue;
        const full = check(bytes);
        if (!full.ok) continue;
        decoded++;
        const text = bytes.toString('utf8');
        if (!comparableWithOracle(text)) continue;
        expect(comparable(full.value), `document ${i}`).toStrictEqual(comparable(lenientOracle(text)));
      }
    } finally {
      for (const q of quiet) q.mockRestore();
    }
    // The corruptions leave some documents readable (a changed letter in a string): those are compared, not skipped.
    expect(decoded).toBeGreaterThan(50);
  });

  it('binary: 2,000 corrupted documents give a value of plist shape or a typed error', () => {
    const next = rng(100);
    let decoded = 0;
    for (let i = 0; i < 2000; i++) {
      if (check(corrupt(next, binarySources[i % binarySources.length])).ok) decoded++;
    }
    expect(decoded).toBeGreaterThan(50);
  });
});

describe('decoding selected keys only', () => {
  function randomSelection(next: () => number, v: unknown): Selection {
    const sel: Record<string, true | Selection> = { absent: true };
    const dict = Array.isArray(v) ? v.find((x) => typeof x === 'object' && x && !Array.isArray(x) && !(x instanceof Date) && !(x instanceof Uint8Array)) : v;
    if (typeof dict !== 'object' || dict === null || Array.isArray(dict) || dict instanceof Date || dict instanceof Uint8Array) return sel;
    for (const [k, x] of Object.entries(dict)) {
      const r = next();
      if (r < 0.35) sel[k] = true;
      else if (r < 0.6) sel[k] = randomSelection(next, x);
    }
    return sel;
  }

  it('equals the full decode projected onto 400 random selections, XML and binary', () => {
    const next = rng(424242);
    for (let i = 0; i < 400; i++) {
      const value: Record<string, unknown> = {};
      for (let k = 0; k < 1 + Math.floor(next() * 7); k++) value[`k${k}`] = randomValue(next, 1);
      const sel = randomSelection(next, value);
      const xml = Buffer.from(plist.build(value as plist.PlistValue, { pretty: next() < 0.5 }));
      const bin = plist.buildBinary(value as plist.PlistValue);
      for (const bytes of [xml, bin]) {
        const full = decodeOk(bytes);
        const r = decodePlist(bytes, sel);
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value).toStrictEqual(project(full, sel));
      }
    }
  });

  it('equals the projection on every fixture', () => {
    const sel: Selection = { UDID: true, Status: true, MessageType: true, CommandUUID: true, Command: { RequestType: true }, QueryResponses: { OSVersion: true } };
    for (const f of fixtureFiles()) {
      const bytes = fixture(f);
      const r = decodePlist(bytes, sel);
      expect(r.ok, f).toBe(true);
      if (r.ok) expect(r.value, f).toStrictEqual(project(decodeOk(bytes), sel));
    }
  });

  it('is not fooled by closing tags inside CDATA or comments in a value it passes over', () => {
    const tricky = doc(
      '<dict><key>Big</key><array><dict><key>n</key><string><![CDATA[</dict></array>]]></string></dict><!-- </array> --><dict/><array/></array>' +
        '<key>Other</key><dict><key>x</key><string>a &lt;/dict&gt; b</string></dict><key>Status</key><string>Idle</string></dict>',
    );
    expect(decodePlist(Buffer.from(tricky), { Status: true })).toStrictEqual({ ok: true, value: { Status: 'Idle' } });
  });

  it('still reports a document whose passed-over part is cut or unbalanced', () => {
    const cut = doc('<dict><key>Big</key><array><dict><key>n</key><string>x</string></dict><key>Status</key><string>Idle</string></dict>');
    const r = decodePlist(Buffer.from(cut), { Status: true });
    expect(r.ok).toBe(false);
    const unknown = doc('<dict><key>Big</key><blob>x</blob><key>Status</key><string>Idle</string></dict>');
    const u = decodePlist(Buffer.from(unknown), { Status: true });
    expect(u.ok).toBe(false);
    if (!u.ok) expect(u.error.message).toMatch(/unknown element <blob>/);
    const deep = doc(`<dict><key>Big</key>${'<array>'.repeat(600)}${'</array>'.repeat(600)}<key>Status</key><string>Idle</string></dict>`);
    const d = decodePlist(Buffer.from(deep), { Status: true });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.code).toBe('limit');
  });

  it('passes over a run of open tags with no `>` between them in one sweep (each search went to the end: quadratic)', () => {
    // 1 MB: a sweep takes tens of milliseconds; one search per tag took over a second, past the decode time limit.
    const run = doc(`<dict><key>Junk</key><array>${'<array '.repeat(150_000)}/></array><key>Status</key><string>Idle</string></dict>`);
    expect(decodePlist(Buffer.from(run), { Status: true }, { timeMs: 1000 })).toStrictEqual({ ok: true, value: { Status: 'Idle' } });
  });

  it('quotes no more than a few dozen bytes of a body in an error', () => {
    const named = decodePlist(Buffer.from(doc(`<dict><key>A</key><${'PUSHMAGIC'.repeat(1000)}/></dict>`)));
    const closed = decodePlist(Buffer.from(doc(`<dict><key>A</key><string>x</${'PUSHMAGIC'.repeat(1000)}></dict>`)));
    for (const r of [named, closed]) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message.length).toBeLessThan(120);
    }
  });
});

/** What a selection should yield: the full decode with unselected keys left out. */
function project(v: PlistValue, sel: Selection, leaf: (v: PlistValue) => boolean = () => false): PlistValue {
  if (Array.isArray(v)) return v.map((x) => project(x, sel, leaf));
  if (!isDict(v) || leaf(v)) return v;
  const out: Record<string, PlistValue> = {};
  for (const k of Object.keys(v)) {
    if (!Object.hasOwn(sel, k)) continue;
    const sub = sel[k];
    const x = sub === true ? v[k] : project(v[k], sub, leaf);
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
  return out;
}

// --- generated values -------------------------------------------------------------------------------------

const ALPHABET = ['a', 'Z', '0', ' ', '<', '>', '&', '"', "'", 'é', 'ß', '中', '😀', '\n', '\t', ';', '#', ']]>'];

function randomString(next: () => number, max = 12): string {
  const n = Math.floor(next() * max);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  // Leading/trailing whitespace-only strings survive both decoders; keep them in.
  return s;
}

function randomValue(next: () => number, depth: number): unknown {
  const r = next();
  if (depth < 4 && r < 0.18) {
    const o: Record<string, unknown> = {};
    const n = Math.floor(next() * 6);
    for (let i = 0; i < n; i++) o[randomString(next, 8) || 'k'] = randomValue(next, depth + 1);
    return o;
  }
  if (depth < 4 && r < 0.32) return Array.from({ length: Math.floor(next() * 6) }, () => randomValue(next, depth + 1));
  if (r < 0.5) return randomString(next);
  if (r < 0.62) {
    const big = next() < 0.2;
    const v = Math.floor(next() * (big ? 2 ** 52 : 2000)) * (next() < 0.3 ? -1 : 1);
    return v === 0 ? 0 : v;
  }
  if (r < 0.72) return Math.round((next() - 0.5) * 1e6) / 64 + 0.5;
  if (r < 0.8) return next() < 0.5;
  if (r < 0.9) return new Date(Math.floor(next() * 2e9) * 1000);
  return Uint8Array.from({ length: Math.floor(next() * 40) }, () => Math.floor(next() * 256));
}

/** The decoded shape of a generated value: data as a plain Uint8Array. */
function normalise(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(normalise);
  if (v instanceof Date) return v;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}

// --- hand-made binary documents -----------------------------------------------------------------------------

function intObject(v: bigint): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0x13;
  b.writeBigInt64BE(v, 1);
  return b;
}

/** A one-object (or given objects) bplist00 with 1-byte offsets and refs. */
function bplist(...objects: Buffer[]): Buffer {
  const head = Buffer.from('bplist00');
  const offsets: number[] = [];
  let pos = head.length;
  for (const o of objects) {
    offsets.push(pos);
    pos += o.length;
  }
  const table = Buffer.from(offsets);
  const trailer = Buffer.alloc(32);
  trailer[6] = 1;
  trailer[7] = 1;
  trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  trailer.writeBigUInt64BE(0n, 16);
  trailer.writeBigUInt64BE(BigInt(pos), 24);
  return Buffer.concat([head, ...objects, table, trailer]);
}

function withTrailer(b: Buffer, t: { tableOffset?: number; topObject?: number; offsetSize?: number }): Buffer {
  const c = Buffer.from(b);
  const at = c.length - 32;
  if (t.offsetSize !== undefined) c[at + 6] = t.offsetSize;
  if (t.topObject !== undefined) c.writeBigUInt64BE(BigInt(t.topObject), at + 16);
  if (t.tableOffset !== undefined) c.writeBigUInt64BE(BigInt(t.tableOffset), at + 24);
  return c;
}

function cyclic(): Buffer {
  // Object 0: an array holding object 0.
  return bplist(Buffer.from([0xa1, 0x00]));
}

function hugeCount(): Buffer {
  // An array claiming 2^32-1 elements.
  return bplist(Buffer.from([0xaf, 0x12, 0xff, 0xff, 0xff, 0xff]));
}

/**
 * A bplist of the given objects with 2-byte references: every reference slot (two zero bytes after the marker
 * and its length) is filled with `target(k)` for object k, and the offsets are 4 bytes.
 */
function bplist16(objects: Buffer[], target: (k: number) => number): Buffer {
  const filled = objects.map((o, k) => {
    const c = Buffer.from(o);
    if ((c[0] >> 4) === 0xa) {
      const start = (c[0] & 0x0f) === 0x0f ? 2 + (1 << (c[1] & 0x0f)) : 1;
      for (let i = start; i + 1 < c.length; i += 2) c.writeUInt16BE(target(k), i);
    }
    return c;
  });
  return assembleBplist(filled, 2);
}

function referenceBomb(): Buffer {
  // Object k is an array of two references to object k+1: 2^40 visits if expanded naively.
  const objs: Buffer[] = [];
  for (let k = 0; k < 40; k++) objs.push(Buffer.from([0xa2, k + 1, k + 1]));
  objs.push(Buffer.from([0x09]));
  return bplist(...objs);
}
