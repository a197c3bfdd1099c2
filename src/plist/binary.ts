/**
 * Binary property lists (`bplist00`). Every offset and count read from the file is checked against the buffer
 * before use, and objects under decoding are tracked, so a hostile body (reference cycles, offsets past the end,
 * counts in the billions) ends in a PlistError instead of a hang or a crash.
 */
import type { PlistDict, PlistValue, Selection } from './value.js';
import { Budget, MAX_DEPTH, PlistFail, type DecodeLimits } from './fail.js';

const MAGIC = 'bplist00';
const TRAILER = 32;
/** Seconds between the Unix epoch and Apple's reference date, 2001-01-01T00:00:00Z. */
const APPLE_EPOCH_S = 978_307_200;

export function isBinaryPlist(b: Buffer): boolean {
  return b.length >= 8 && b.toString('latin1', 0, 8) === MAGIC;
}

export function decodeBinary(b: Buffer, select?: Selection, limits?: DecodeLimits): PlistValue {
  if (b.length < 8 + TRAILER) throw new PlistFail('truncated', 'binary plist shorter than its trailer', b.length);
  const t = b.length - TRAILER;
  const offsetSize = b[t + 6];
  const refSize = b[t + 7];
  const numObjects = readUint(b, t + 8, 8, b.length);
  const topObject = readUint(b, t + 16, 8, b.length);
  const tableOffset = readUint(b, t + 24, 8, b.length);
  if (![1, 2, 4, 8].includes(offsetSize) || ![1, 2, 4, 8].includes(refSize)) {
    throw new PlistFail('syntax', `bad trailer: offset size ${offsetSize}, reference size ${refSize}`, t + 6);
  }
  if (numObjects < 1 || topObject >= numObjects) throw new PlistFail('syntax', 'bad trailer: object count or top object', t + 8);
  if (tableOffset < 8 || tableOffset + numObjects * offsetSize > t) {
    throw new PlistFail('syntax', 'offset table outside the document', t + 24);
  }
  const reader = new BinaryReader(b, offsetSize, refSize, numObjects, tableOffset, t, limits);
  return reader.object(topObject, 0, select);
}

class BinaryReader {
  private readonly active = new Set<number>();
  /** Strings by object number: a bplist stores each distinct key once and refers to it from every dictionary. */
  private readonly strings: Array<string | undefined>;
  /** Shared references are legal, but a DAG of them can expand exponentially ("billion laughs"): cap the work. */
  private readonly budget: Budget;
  /** Bytes copied out of <data> objects: a shared one referenced many times must not multiply memory. */
  private dataLeft: number;

  constructor(
    private readonly b: Buffer,
    private readonly offsetSize: number,
    private readonly refSize: number,
    private readonly numObjects: number,
    private readonly tableOffset: number,
    private readonly end: number,
    limits?: DecodeLimits,
  ) {
    // Leaf objects (booleans, small numbers) are shared by design, so a legitimate document visits more values
    // than it has objects; collections are not (CoreFoundation's writer never shares them).
    this.budget = new Budget(limits, 64 * numObjects + 10_000);
    this.dataLeft = 2 * b.length + 1024 * 1024;
    this.strings = new Array<string | undefined>(numObjects);
  }

  object(ref: number, depth: number, select?: Selection): PlistValue {
    const known = this.strings[ref];
    if (known !== undefined) return known;
    if (ref >= this.numObjects) throw new PlistFail('syntax', `object reference ${ref} out of range`, this.tableOffset);
    if (depth > MAX_DEPTH) throw new PlistFail('limit', `nesting deeper than ${MAX_DEPTH}`, this.tableOffset);
    const at = readUint(this.b, this.tableOffset + ref * this.offsetSize, this.offsetSize, this.end);
    if (at < 8 || at >= this.end) throw new PlistFail('syntax', `object ${ref} offset ${at} outside the document`, this.tableOffset);
    this.budget.spend(at);
    if (this.active.has(ref)) throw new PlistFail('syntax', `reference cycle through object ${ref}`, at);
    const b = this.b;
    const marker = b[at];
    const kind = marker >> 4;
    const info = marker & 0x0f;
    switch (kind) {
      case 0x0:
        if (info === 0x8) return false;
        if (info === 0x9) return true;
        // null and fill have no place in a property list value; `plist` reads null as null, we refuse it clearly.
        throw new PlistFail('unsupported', `marker 0x${marker.toString(16)} (null/fill) is not a plist value`, at);
      case 0x1:
        return this.int(at + 1, 1 << info, at);
      case 0x2: {
        const size = 1 << info;
        this.need(at + 1, size, at);
        if (size === 4) return b.readFloatBE(at + 1);
        if (size === 8) return b.readDoubleBE(at + 1);
        throw new PlistFail('unsupported', `real of ${size} bytes`, at);
      }
      case 0x3:
        this.need(at + 1, 8, at);
        return new Date(Math.round((b.readDoubleBE(at + 1) + APPLE_EPOCH_S) * 1000));
      case 0x4: {
        const [len, s] = this.length(at, info);
        this.need(s, len, at);
        this.dataLeft -= len;
        if (this.dataLeft < 0) throw new PlistFail('limit', 'data objects shared so often that copying them would exceed twice the document', at);
        return new Uint8Array(b.buffer, b.byteOffset + s, len).slice();
      }
      case 0x5: {
        const [len, s] = this.length(at, info);
        this.need(s, len, at);
        return (this.strings[ref] = b.toString('latin1', s, s + len));
      }
      case 0x6: {
        const [len, s] = this.length(at, info);
        this.need(s, len * 2, at);
        return (this.strings[ref] = utf16be(b, s, len));
      }
      case 0x8:
        // Keyed-archiver UIDs: the shape other decoders use, so archives stay recognisable.
        return { CF$UID: readUint(b, at + 1, info + 1, this.end) };
      case 0xa: {
        const [len, s] = this.length(at, info);
        this.need(s, len * this.refSize, at);
        this.active.add(ref);
        const out: PlistValue[] = new Array(len);
        for (let i = 0; i < len; i++) out[i] = this.object(this.ref(s + i * this.refSize), depth + 1, select);
        this.active.delete(ref);
        return out;
      }
      case 0xd: {
        const [len, s] = this.length(at, info);
        this.need(s, len * 2 * this.refSize, at);
        this.active.add(ref);
        const out: PlistDict = {};
        const vs = s + len * this.refSize;
        for (let i = 0; i < len; i++) {
          const key = this.object(this.ref(s + i * this.refSize), depth + 1);
          if (typeof key !== 'string') throw new PlistFail('syntax', 'dictionary key is not a string', at);
          // Objects are reached by offset, so a key left out of the selection costs nothing to pass over.
          const sub = select ? (Object.hasOwn(select, key) ? select[key] : undefined) : true;
          if (sub === undefined) continue;
          const v = this.object(this.ref(vs + i * this.refSize), depth + 1, sub === true ? undefined : sub);
          if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
          else out[key] = v;
        }
        this.active.delete(ref);
        return out;
      }
      default:
        throw new PlistFail('unsupported', `unknown object marker 0x${marker.toString(16)}`, at);
    }
  }

  private ref(at: number): number {
    return readUint(this.b, at, this.refSize, this.end);
  }

  /** Object length: in the marker's low nibble, or 0xF followed by an integer object. */
  private length(at: number, info: number): [number, number] {
    if (info !== 0x0f) return [info, at + 1];
    const m = this.b[at + 1];
    if (m >> 4 !== 0x1) throw new PlistFail('syntax', 'bad length marker', at + 1);
    const size = 1 << (m & 0x0f);
    const len = this.int(at + 2, size, at + 1);
    if (typeof len !== 'number' || len < 0 || len > this.end) throw new PlistFail('limit', `length ${len} exceeds the document`, at + 1);
    return [len, at + 2 + size];
  }

  private int(at: number, size: number, marker: number): number | bigint {
    this.need(at, size, marker);
    const b = this.b;
    switch (size) {
      case 1:
        return b[at];
      case 2:
        return b.readUInt16BE(at);
      case 4:
        return b.readUInt32BE(at);
      case 8: {
        // 8-byte integers are signed; anything smaller is unsigned.
        const v = b.readBigInt64BE(at);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 16: {
        const v = (b.readBigInt64BE(at) << 64n) | b.readBigUInt64BE(at + 8);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      default:
        throw new PlistFail('unsupported', `integer of ${size} bytes`, marker);
    }
  }

  private need(at: number, len: number, marker: number): void {
    if (at + len > this.end) throw new PlistFail('truncated', 'object runs past the offset table', marker);
  }
}

function readUint(b: Buffer, at: number, size: number, end: number): number {
  if (at + size > end || at < 0) throw new PlistFail('truncated', 'field runs past the document', at);
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + b[at + i];
  if (!Number.isSafeInteger(v)) throw new PlistFail('limit', 'offset beyond 2^53', at);
  return v;
}

function utf16be(b: Buffer, s: number, len: number): string {
  const swapped = Buffer.allocUnsafe(len * 2);
  for (let i = 0; i < len; i++) {
    swapped[2 * i] = b[s + 2 * i + 1];
    swapped[2 * i + 1] = b[s + 2 * i];
  }
  return swapped.toString('utf16le');
}
