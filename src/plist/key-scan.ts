/**
 * KeyScanner: the few identifying keys of a body too large to keep, read while it streams past.
 *
 * A device report can be many megabytes, and Apple sorts plist keys, so `Status`, `UDID` and `UserID` come
 * after a multi-megabyte `InstalledApplicationList` or `QueryResponses`: the head that `--max-body` keeps cannot
 * identify it. The scanner sees every chunk once, holds a bounded amount of memory whatever the body's size, and
 * returns the selected scalar values (strings, integers, booleans) of the top-level dictionary and of selected
 * dictionaries inside it (e.g. `Command.RequestType` in a server reply).
 *
 * XML is read as a stream of tags (real devices send XML). A binary plist cannot be read in one pass (its object
 * offsets and reference size are in the trailer at the very end), so the scanner keeps its head and a bounded
 * tail, and reads the top dictionary through them: enough when the identifying objects are near the ends, as
 * Apple's writer lays them out; otherwise the body stays unidentified (and is reported so), never misread.
 */
import type { PlistDict, PlistValue, Selection } from './value.js';
import { isDict } from './value.js';
import { unescapeXml } from './entities.js';

/** Longest tag, key or captured value the XML scanner holds; anything longer is skipped, not buffered. */
const MAX_TOKEN = 4096;
/** Nesting the scanner follows inside a skipped value (the decoder's limit too). */
const MAX_SKIP_DEPTH = 512;
/** Bytes of a binary plist kept from its start and from its end. */
const BINARY_HEAD = 64 * 1024;
const BINARY_TAIL = 4 * 1024 * 1024;

export interface ScanResult {
  /** The selected values found (possibly empty); undefined when the body is not a plist the scanner can read. */
  keys?: PlistDict;
  /** Why nothing could be read, when `keys` is undefined. */
  problem?: string;
}

export interface KeyScannerLimits {
  /** Bytes kept from the start and the end of a binary plist (defaults: 64 KB and 4 MB). */
  binaryHead?: number;
  binaryTail?: number;
}

export class KeyScanner {
  private kind: 'unknown' | 'xml' | 'binary' | 'failed' = 'unknown';
  private readonly sniff: Buffer[] = [];
  private sniffed = 0;
  private xml?: XmlKeyScanner;
  private bin?: BinaryWindow;
  private problem?: string;

  constructor(
    private readonly select: Selection,
    private readonly limits: KeyScannerLimits = {},
  ) {}

  write(chunk: Uint8Array): void {
    if (this.kind === 'failed') return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.kind === 'unknown') {
      this.sniff.push(buf);
      this.sniffed += buf.length;
      if (this.sniffed < 8) return;
      const head = Buffer.concat(this.sniff);
      this.sniff.length = 0;
      if (head.toString('latin1', 0, 8) === 'bplist00') {
        this.kind = 'binary';
        this.bin = new BinaryWindow(this.limits.binaryHead ?? BINARY_HEAD, this.limits.binaryTail ?? BINARY_TAIL);
      } else {
        this.kind = 'xml';
        this.xml = new XmlKeyScanner(this.select);
      }
      return this.write(head);
    }
    if (this.kind === 'binary') this.bin!.write(buf);
    else if (!this.xml!.write(buf)) this.fail(this.xml!.error ?? 'not an XML plist');
  }

  /** Bytes of the body held (a binary plist's head and tail; XML holds at most a tag). */
  get held(): number {
    return this.bin?.held ?? 0;
  }

  end(): ScanResult {
    if (this.kind === 'unknown') return { problem: 'body too short to be a plist' };
    if (this.kind === 'failed') return { problem: this.problem ?? 'unreadable' };
    if (this.kind === 'binary') {
      const r = this.bin!.read(this.select);
      return typeof r === 'string' ? { problem: r } : { keys: r };
    }
    const keys = this.xml!.result();
    return keys ? { keys } : { problem: this.xml!.error ?? 'no top-level dictionary' };
  }

  private fail(why: string): void {
    this.kind = 'failed';
    this.problem = why;
    this.xml = undefined;
    this.bin = undefined;
  }
}

/** Convenience for a body already in memory (tests, replays). */
export function scanKeys(body: Uint8Array, select: Selection, limits?: KeyScannerLimits): ScanResult {
  const s = new KeyScanner(select, limits);
  s.write(body);
  return s.end();
}

// --- XML --------------------------------------------------------------------------------------------------------

interface Frame {
  kind: 'dict' | 'array';
  /** What to capture in this dictionary (undefined: nothing beneath it matters). */
  select?: Selection;
  out?: PlistDict;
  /** The last key read in a dict, waiting for its value. */
  key?: string;
}

type Mode = 'text' | 'tag' | 'comment' | 'cdata' | 'pi';


class XmlKeyScanner {
  error?: string;
  private mode: Mode = 'text';
  private carry = '';
  private readonly stack: Frame[] = [];
  private root?: PlistDict;
  private seenTop = false;
  /** Text being collected: a key name, or a selected scalar value. */
  private collect?: { tag: string; text: string; forKey: boolean; overflow: boolean };
  /**
   * Depth inside a container nothing is selected from. Most of a large body is such a container (the app list),
   * so there only `dict`/`array` nesting is tracked, by comparing characters in place: no tag is sliced out.
   */
  private skip = 0;
  /** Kinds of the containers skipped into ('d' or 'a'), so a body that closes them wrongly is refused, not misread. */
  private skipKinds = '';

  constructor(private readonly select: Selection) {}

  /** false once the input is not XML a plist could be made of. */
  write(buf: Buffer): boolean {
    if (this.error) return false;
    // latin1 keeps one char per byte; captured text is re-decoded as UTF-8 when it is kept. The carry is what a
    // construct cut by the chunk boundary left over: a partial tag (bounded) or the last bytes of a terminator.
    const s = this.carry + buf.toString('latin1');
    this.carry = '';
    let i = 0;
    const n = s.length;
    while (i < n) {
      switch (this.mode) {
        case 'text': {
          const lt = s.indexOf('<', i);
          const stop = lt === -1 ? n : lt;
          if (this.collect && stop > i) this.text(s.slice(i, stop));
          if (lt === -1) return true;
          i = lt;
          this.mode = 'tag';
          break;
        }
        case 'tag': {
          // s[i] is '<'. Comments and CDATA are told apart by their first bytes, which may not have arrived yet.
          const c1 = s.charCodeAt(i + 1);
          if (c1 === 0x21 || Number.isNaN(c1)) {
            // '!' (or the chunk ends right after '<')
            if (s.startsWith('<!--', i)) {
              i += 4;
              this.mode = 'comment';
              break;
            }
            if (s.startsWith('<![CDATA[', i)) {
              i += 9;
              this.mode = 'cdata';
              break;
            }
            const rest = s.slice(i, i + 9);
            if (rest.length < 9 && ('<!--'.startsWith(rest) || '<![CDATA['.startsWith(rest))) {
              this.carry = rest;
              return true;
            }
          }
          if (c1 === 0x3f || c1 === 0x21) {
            // '<?…?>' and '<!DOCTYPE …>'
            i += 2;
            this.mode = 'pi';
            break;
          }
          const gt = s.indexOf('>', i);
          if (gt === -1) {
            if (n - i > MAX_TOKEN) return this.bad('a tag longer than 4 KB');
            this.carry = s.slice(i);
            return true;
          }
          if (gt - i > MAX_TOKEN) return this.bad('a tag longer than 4 KB');
          this.mode = 'text';
          if (this.skip > 0) {
            if (!this.skipTag(s, i + 1, gt)) return false;
            i = gt + 1;
            break;
          }
          const tag = s.slice(i + 1, gt);
          i = gt + 1;
          if (!this.tag(tag)) return false;
          break;
        }
        case 'comment': {
          const end = s.indexOf('-->', i);
          if (end === -1) {
            this.carry = s.slice(Math.max(i, n - 2));
            return true;
          }
          i = end + 3;
          this.mode = 'text';
          break;
        }
        case 'pi': {
          const gt = s.indexOf('>', i);
          if (gt === -1) return true;
          i = gt + 1;
          this.mode = 'text';
          break;
        }
        case 'cdata': {
          const end = s.indexOf(']]>', i);
          if (end === -1) {
            const keep = Math.max(i, n - 2);
            if (this.collect) this.text(s.slice(i, keep), true);
            this.carry = s.slice(keep);
            return true;
          }
          if (this.collect) this.text(s.slice(i, end), true);
          i = end + 3;
          this.mode = 'text';
          break;
        }
      }
    }
    return true;
  }

  result(): PlistDict | undefined {
    return this.stack.length === 0 && this.skip === 0 ? this.root : undefined;
  }

  /** A tag (between `<` at from-1 and `>` at to) inside a skipped container: only nesting matters. */
  private skipTag(s: string, from: number, to: number): boolean {
    const closing = s.charCodeAt(from) === 0x2f; // '/'
    const at = closing ? from + 1 : from;
    const kind = isName(s, at, to, 'dict') ? 'd' : isName(s, at, to, 'array') ? 'a' : '';
    if (!kind || s.charCodeAt(to - 1) === 0x2f) return true; // not a container, or self-closing
    if (!closing) {
      if (this.skipKinds.length >= MAX_SKIP_DEPTH) return this.bad(`nesting deeper than ${MAX_SKIP_DEPTH}`);
      this.skipKinds += kind;
      this.skip++;
      return true;
    }
    if (this.skipKinds[this.skipKinds.length - 1] !== kind) return this.bad(`unbalanced </${kind === 'd' ? 'dict' : 'array'}>`);
    this.skipKinds = this.skipKinds.slice(0, -1);
    if (--this.skip === 0) {
      // The skipped container is over: the key it was the value of is done with.
      const top = this.stack[this.stack.length - 1];
      if (top?.kind === 'dict') top.key = undefined;
    }
    return true;
  }

  private bad(why: string): false {
    this.error = why;
    return false;
  }

  private text(t: string, raw = false): void {
    const c = this.collect!;
    if (c.overflow) return;
    // Entities are resolved when the value is complete; CDATA is literal, so its '&' is protected here.
    c.text += raw ? t.replace(/&/g, '&amp;').replace(/</g, '&lt;') : t;
    if (c.text.length > MAX_TOKEN) c.overflow = true;
  }

  private tag(raw: string): boolean {
    const selfClosing = raw.endsWith('/');
    const body = selfClosing ? raw.slice(0, -1) : raw;
    const closing = body.startsWith('/');
    const name = (closing ? body.slice(1) : body).trim().split(/\s/, 1)[0];
    const top = this.stack[this.stack.length - 1];

    if (closing) {
      if (this.collect) {
        if (name !== this.collect.tag) return this.bad(`</${name}> closes <${this.collect.tag}>`);
        const c = this.collect;
        this.collect = undefined;
        if (c.overflow) {
          // Passed over (not selected, or too long to be an identity): whatever key it had is done with.
          if (top) top.key = undefined;
          return true;
        }
        const text = unescapeXml(Buffer.from(c.text, 'latin1').toString('utf8'));
        if (c.forKey) {
          if (top) top.key = text;
        } else if (top?.out && top.key !== undefined) {
          const v = scalar(c.tag, text);
          if (v !== undefined) put(top.out, top.key, v);
          top.key = undefined;
        }
        return true;
      }
      if (name === 'dict' || name === 'array') {
        const f = this.stack.pop();
        if (!f || f.kind !== name) return this.bad(`unbalanced </${name}>`);
        const parent = this.stack[this.stack.length - 1];
        if (parent?.kind === 'dict') parent.key = undefined;
        return true;
      }
      if (name === 'plist' || name === 'key' || SCALARS.has(name)) {
        if (top?.kind === 'dict' && SCALARS.has(name)) top.key = undefined;
        return true;
      }
      return this.bad(`unexpected </${name}>`);
    }

    if (name === 'plist' || name === 'xml') return true;
    if (this.collect) return this.bad(`<${name}> inside <${this.collect.tag}>`);
    if (name === 'dict' || name === 'array') {
      if (!top && this.seenTop) return this.bad('more than one top-level value');
      const isTop = !top;
      this.seenTop = true;
      // A container below which nothing is selected is only walked through, not tracked.
      const wantedDict = name === 'dict' && (isTop || (top.kind === 'dict' && top.select !== undefined && top.key !== undefined && sub(top.select, top.key) !== undefined));
      if (!isTop && !wantedDict) {
        if (selfClosing) {
          if (top.kind === 'dict') top.key = undefined;
        } else {
          this.skip = 1;
          this.skipKinds = name === 'dict' ? 'd' : 'a';
        }
        return true;
      }
      let frame: Frame;
      if (name === 'dict') {
        const sel = isTop ? this.select : top.kind === 'dict' && top.select && top.key !== undefined ? sub(top.select, top.key) : undefined;
        frame = { kind: 'dict', ...(sel ? { select: sel, out: {} } : {}) };
        if (isTop) this.root = frame.out ?? {};
        else if (frame.out && top.out && top.key !== undefined) put(top.out, top.key, frame.out);
      } else frame = { kind: 'array' };
      if (selfClosing) {
        if (top?.kind === 'dict') top.key = undefined;
        return true;
      }
      this.stack.push(frame);
      return true;
    }
    if (name === 'key') {
      if (top?.kind !== 'dict') return this.bad('<key> outside a dictionary');
      if (selfClosing) top.key = '';
      else this.collect = { tag: 'key', text: '', forKey: true, overflow: false };
      return true;
    }
    if (SCALARS.has(name)) {
      if (!top) {
        if (this.seenTop) return this.bad('more than one top-level value');
        this.seenTop = true;
      }
      const wanted = top?.kind === 'dict' && top.select && top.key !== undefined && top.select[top.key] === true;
      if (selfClosing) {
        if (wanted) {
          const v = scalar(name, '');
          if (v !== undefined) put(top!.out!, top!.key!, v);
        }
        if (top?.kind === 'dict') top.key = undefined;
        return true;
      }
      // A value not selected is passed over (overflow = nothing kept) but still closes its key.
      this.collect = { tag: name, text: '', forKey: false, overflow: !wanted };
      return true;
    }
    return this.bad(`<${name}> is not a plist element`);
  }
}

const SCALARS = new Set(['string', 'integer', 'real', 'true', 'false', 'date', 'data']);

/** Whether s[at..to) starts with the element name `name` followed by the end of the name. */
function isName(s: string, at: number, to: number, name: string): boolean {
  if (!s.startsWith(name, at)) return false;
  const after = at + name.length;
  if (after >= to) return true;
  const c = s.charCodeAt(after);
  return c === 0x2f || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function sub(select: Selection, key: string): Selection | undefined {
  if (!Object.hasOwn(select, key)) return undefined;
  const s = select[key];
  return s === true ? undefined : s;
}

function put(out: PlistDict, key: string, v: PlistValue): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  else out[key] = v;
}

function scalar(tag: string, text: string): PlistValue | undefined {
  switch (tag) {
    case 'string':
      return text;
    case 'true':
      return true;
    case 'false':
      return false;
    case 'integer': {
      const t = text.trim();
      if (!/^[+-]?\d{1,19}$/.test(t)) return undefined;
      const n = Number(t);
      // Identities are strings; an integer beyond 2^53 is not worth a bigint that JSON cannot carry.
      return Number.isSafeInteger(n) ? n : undefined;
    }
    default:
      return undefined;
  }
}

// --- binary -----------------------------------------------------------------------------------------------------

/** The first and last bytes of a binary plist, and its total length. */
class BinaryWindow {
  constructor(
    private readonly headMax: number,
    private readonly tailMax: number,
  ) {}

  private readonly head: Buffer[] = [];
  private headLen = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  private total = 0;

  get held(): number {
    return this.headLen + this.tailLen;
  }

  write(buf: Buffer): void {
    this.total += buf.length;
    if (this.headLen < this.headMax) {
      const take = Math.min(buf.length, this.headMax - this.headLen);
      this.head.push(Buffer.from(buf.subarray(0, take)));
      this.headLen += take;
      buf = buf.subarray(take);
      if (buf.length === 0) return;
    }
    this.tail.push(buf);
    this.tailLen += buf.length;
    while (this.tail.length > 1 && this.tailLen - this.tail[0].length >= this.tailMax) this.tailLen -= this.tail.shift()!.length;
    if (this.tailLen > 2 * this.tailMax) {
      const joined = Buffer.concat(this.tail).subarray(this.tailLen - this.tailMax);
      this.tail = [Buffer.from(joined)];
      this.tailLen = joined.length;
    }
  }

  read(select: Selection): PlistDict | string {
    const head = Buffer.concat(this.head);
    const tail = Buffer.concat(this.tail);
    const tailStart = this.total - tail.length;
    const at = (off: number, len: number): Buffer | undefined => {
      if (off >= 0 && off + len <= head.length) return head.subarray(off, off + len);
      if (off >= tailStart && off + len <= this.total) return tail.subarray(off - tailStart, off - tailStart + len);
      return undefined;
    };
    const trailer = at(this.total - 32, 32);
    if (!trailer) return 'binary plist shorter than its trailer';
    const offsetSize = trailer[6];
    const refSize = trailer[7];
    const num = uint(trailer, 8, 8);
    const top = uint(trailer, 16, 8);
    const table = uint(trailer, 24, 8);
    if (![1, 2, 4, 8].includes(offsetSize) || ![1, 2, 4, 8].includes(refSize) || top >= num || table + num * offsetSize > this.total - 32) {
      return 'bad binary plist trailer';
    }
    const offsetOf = (ref: number): number | undefined => {
      if (ref >= num) return undefined;
      const b = at(table + ref * offsetSize, offsetSize);
      return b ? uint(b, 0, offsetSize) : undefined;
    };
    const unreadable = 'the identifying keys of this binary plist lie outside the bytes kept from its start and end';
    const objectAt = (ref: number, sel: Selection | undefined, depth: number): PlistValue | undefined | null => {
      const off = offsetOf(ref);
      if (off === undefined) return null;
      const m = at(off, 1);
      if (!m) return null;
      const kind = m[0] >> 4;
      const info = m[0] & 0x0f;
      let len = info;
      let start = off + 1;
      if ((kind === 0x5 || kind === 0x6 || kind === 0xd) && info === 0x0f) {
        const lm = at(off + 1, 1);
        if (!lm || lm[0] >> 4 !== 1) return null;
        const size = 1 << (lm[0] & 0x0f);
        const lb = at(off + 2, size);
        if (!lb || size > 8) return null;
        len = uint(lb, 0, size);
        start = off + 2 + size;
      }
      switch (kind) {
        case 0x0:
          return info === 0x9 ? true : info === 0x8 ? false : undefined;
        case 0x1: {
          const size = 1 << info;
          const b = size <= 8 ? at(off + 1, size) : undefined;
          if (!b) return undefined;
          const v = size === 8 ? Number(b.readBigInt64BE(0)) : uint(b, 0, size);
          return Number.isSafeInteger(v) ? v : undefined;
        }
        case 0x5: {
          const b = len <= MAX_TOKEN ? at(start, len) : undefined;
          return b ? b.toString('latin1') : null;
        }
        case 0x6: {
          const b = len <= MAX_TOKEN ? at(start, len * 2) : undefined;
          if (!b) return null;
          const sw = Buffer.alloc(b.length);
          for (let i = 0; i + 1 < b.length; i += 2) {
            sw[i] = b[i + 1];
            sw[i + 1] = b[i];
          }
          return sw.toString('utf16le');
        }
        case 0xd: {
          if (!sel || depth > 2) return undefined;
          const refs = at(start, len * 2 * refSize);
          if (!refs) return null;
          const out: PlistDict = {};
          for (let i = 0; i < len; i++) {
            const key = objectAt(uint(refs, i * refSize, refSize), undefined, depth + 1);
            if (typeof key !== 'string') {
              if (key === null) return null;
              continue;
            }
            if (!Object.hasOwn(sel, key)) continue;
            const s = sel[key];
            const v = objectAt(uint(refs, (len + i) * refSize, refSize), s === true ? undefined : s, depth + 1);
            if (v === null) return null;
            if (v !== undefined && (s === true ? !isDict(v) : isDict(v))) put(out, key, v);
          }
          return out;
        }
        default:
          return undefined;
      }
    };
    const root = objectAt(top, select, 0);
    if (root === null) return unreadable;
    return isDict(root) ? root : 'binary plist is not a dictionary';
  }
}

function uint(b: Buffer, at: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + b[at + i];
  return v;
}
