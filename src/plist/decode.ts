/**
 * decodePlist(): bytes → PlistValue, XML or binary, never throwing. It runs on every body the proxy copies, so a
 * malformed or hostile body must come back as a typed error with the byte offset, not an exception.
 */
import type { DecodeResult, Selection } from './value.js';
import { PlistFail, type DecodeLimits } from './fail.js';
import { decodeXml } from './xml.js';
import { decodeBinary, isBinaryPlist } from './binary.js';

export type { DecodeLimits } from './fail.js';

/**
 * `select`: decode only these keys of the top-level dictionary (see Selection); everything when absent.
 * `limits`: what the decode may spend before giving up with a `limit` error (see DecodeLimits).
 */
export function decodePlist(bytes: Uint8Array, select?: Selection, limits?: DecodeLimits): DecodeResult {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (isBinaryPlist(buf)) return { ok: true, value: decodeBinary(buf, select, limits) };
    return { ok: true, value: decodeXml(buf, select, limits) };
  } catch (e) {
    if (e instanceof PlistFail) return { ok: false, error: { code: e.code, message: e.message, offset: e.offset } };
    // Stack overflow or anything unforeseen: still an answer, never an exception on the proxy's side.
    return { ok: false, error: { code: 'syntax', message: `undecodable: ${(e as Error)?.message ?? String(e)}`, offset: 0 } };
  }
}
