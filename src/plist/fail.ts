import type { PlistError } from './value.js';

/**
 * Thrown inside the parsers only and turned into a DecodeResult at the boundary (decode.ts): unwinding a deep
 * recursive descent by exception keeps the hot path free of result checks.
 */
export class PlistFail extends Error {
  constructor(
    readonly code: PlistError['code'],
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Documents nest a few levels in practice; a hostile one must not exhaust the stack. */
export const MAX_DEPTH = 512;
