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

/**
 * What one decode may spend. A hostile body must fail fast instead of stalling the thread that decodes it:
 * `maxObjects` bounds the values produced (a binary plist's shared references can expand exponentially),
 * `timeMs` is the last line of defence (checked every few thousand values). The defaults suit a full decode of a
 * legitimate body of any size mdmtap keeps; classification asks for far less.
 */
export interface DecodeLimits {
  maxObjects?: number;
  timeMs?: number;
  /** Longest text (string, key, data) read into a value, in bytes: identities and statuses are short. */
  maxTextBytes?: number;
}

export const DEFAULT_MAX_OBJECTS = 2_000_000;
export const DEFAULT_TIME_MS = 2_000;
/** Decimal digits of the largest plist integer (128-bit), plus a sign: anything longer is not a plist integer. */
export const MAX_INTEGER_CHARS = 41;
/** Text of an <integer>, <real> or <date>, whitespace included: nothing legitimate comes near it. */
export const MAX_NUMBER_TEXT = 256;

/** Counts values against the limits; cheap enough to call for every value. */
export class Budget {
  private left: number;
  private readonly deadline: number;
  private tick = 0;

  constructor(limits: DecodeLimits | undefined, objects: number) {
    this.left = Math.min(limits?.maxObjects ?? DEFAULT_MAX_OBJECTS, objects);
    this.deadline = performance.now() + (limits?.timeMs ?? DEFAULT_TIME_MS);
  }

  spend(offset: number): void {
    if (--this.left < 0) throw new PlistFail('limit', 'too many values for one document (shared-reference expansion or a hostile body)', offset);
    this.step(offset);
  }

  /** A unit of work that is not a value (a step of a search): only the clock is checked, now and then. */
  step(offset: number): void {
    if ((++this.tick & 4095) === 0 && performance.now() > this.deadline) throw new PlistFail('limit', 'decoding took too long', offset);
  }
}
