/**
 * Bodies sent with a Content-Encoding (gzip, deflate, br): a server behind nginx or a load balancer may compress its
 * XML replies, and devices accept it. The wire carries them untouched; analysis and the capture need the plist:
 * compressed, a reply reads as no command at all, and the secret search (redact.ts) finds nothing in it, so a
 * DeviceLock PIN would be stored as it was sent. The exchange handed on has each such body decoded and, so that
 * nothing decodes it twice (a replay of the capture), its `content-encoding` header renamed to
 * `x-mdmtap-decoded-content-encoding`. A body that cannot be decoded is replaced by a note: it cannot be searched
 * for secrets, so it is not kept.
 */
import zlib from 'node:zlib';
import type { Exchange, Headers } from '../model/exchange.js';

/**
 * A body never decodes to more than this, nor to more than RATIO times its own size (above a floor): decoding runs
 * on the proxy's thread, and a bomb of a hundred bytes must not buy 16 MiB of work. Plists compress ~10×.
 */
export const MAX_DECODED = 16 * 1024 * 1024;
const RATIO = 40;
const FLOOR = 256 * 1024;
export const DECODED_HEADER = 'x-mdmtap-decoded-content-encoding';

type Side = 'request' | 'response';

export function decodeContent(ex: Exchange): Exchange {
  const req = ex.requestHeaders['content-encoding'];
  const res = ex.responseHeaders['content-encoding'];
  if (!codingOf(req) && !codingOf(res)) return ex;
  const out: Exchange = { ...ex };
  if (codingOf(req)) decodeSide(out, 'request', req!);
  if (codingOf(res)) decodeSide(out, 'response', res!);
  return out;
}

function codingOf(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '' && value.trim().toLowerCase() !== 'identity';
}

function decodeSide(ex: Exchange, side: Side, coding: string): void {
  const body = side === 'request' ? ex.requestBody : ex.responseBody;
  const truncated = side === 'request' ? ex.requestTruncated : ex.responseTruncated;
  const headers: Headers = { ...(side === 'request' ? ex.requestHeaders : ex.responseHeaders) };
  delete headers['content-encoding'];
  headers[DECODED_HEADER] = coding;
  let decoded: Uint8Array;
  if (body.length === 0) decoded = body;
  else {
    try {
      decoded = decode(Buffer.from(body.buffer, body.byteOffset, body.byteLength), coding, truncated);
    } catch (e) {
      decoded = Buffer.from(`<not kept by mdmtap: a ${coding.slice(0, 40)} body of ${body.length} bytes that could not be decoded (${(e as Error).message.slice(0, 100)}), so it cannot be searched for secrets>`);
      headers[DECODED_HEADER] = `${coding} (not decoded)`;
    }
  }
  if (side === 'request') {
    ex.requestBody = decoded;
    ex.requestHeaders = headers;
  } else {
    ex.responseBody = decoded;
    ex.responseHeaders = headers;
  }
}

/** Codings are undone last-applied first. A cut body (--max-body) decodes as far as it goes. */
function decode(body: Buffer, coding: string, truncated: boolean): Buffer {
  const codings = coding.toLowerCase().split(',').map((c) => c.trim()).filter((c) => c && c !== 'identity').reverse();
  if (codings.length > 2) throw new Error('more than two codings');
  let b = body;
  for (const c of codings) {
    const opts = { maxOutputLength: Math.min(MAX_DECODED, Math.max(FLOOR, b.length * RATIO)), ...(truncated ? { finishFlush: c === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH } : {}) };
    if (c === 'gzip' || c === 'x-gzip') b = zlib.gunzipSync(b, opts);
    else if (c === 'deflate') b = inflateEither(b, opts);
    else if (c === 'br') b = zlib.brotliDecompressSync(b, opts);
    else throw new Error(`unknown coding ${c.slice(0, 20)}`);
  }
  return b;
}

/** `deflate` is meant to be zlib-wrapped, and some servers send it raw (RFC 9110 §8.4.1.2 notes both). */
function inflateEither(b: Buffer, opts: zlib.ZlibOptions): Buffer {
  try {
    return zlib.inflateSync(b, opts);
  } catch {
    return zlib.inflateRawSync(b, opts);
  }
}
