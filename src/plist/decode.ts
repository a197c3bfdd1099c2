/**
 * decodePlist(): bytes → PlistValue, XML or binary, never throwing. It runs on every body the proxy copies, so a
 * malformed or hostile body must come back as a typed error with the byte offset, not an exception.
 */
import type { DecodeResult, Selection } from './value.js';
import { PlistFail } from './fail.js';
import { decodeXml } from './xml.js';
import { decodeBinary, isBinaryPlist } from './binary.js';

/** `select`: decode only these keys of the top-level dictionary (see Selection); everything when absent. */
export function decodePlist(bytes: Uint8Array, select?: Selection): DecodeResult {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (isBinaryPlist(buf)) return { ok: true, value: decodeBinary(buf, select) };
    return { ok: true, value: decodeXml(buf, select) };
  } catch (e) {
    if (e instanceof PlistFail) return { ok: false, error: { code: e.code, message: e.message, offset: e.offset } };
    // Stack overflow or anything unforeseen: still an answer, never an exception on the proxy's side.
    return { ok: false, error: { code: 'syntax', message: `undecodable: ${(e as Error)?.message ?? String(e)}`, offset: 0 } };
  }
}
