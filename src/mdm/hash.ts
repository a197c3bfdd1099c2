/**
 * Hashes that let secrets correlate without being kept: equal push tokens, PushMagic strings or PINs give equal
 * tags, so an auditor can follow a device across a capture while the value itself never leaves memory.
 */
import { createHmac, hash, randomBytes } from 'node:crypto';

/** One call, no Hash object: 0.5 µs for a short string where createHash().update().digest() takes 2 µs. */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/**
 * The key of the tags in redacted bodies: random per run, never written. A plain hash of a six-digit PIN is found
 * again by trying the million PINs (2 s); under a key nobody has, equal values still give equal tags within the run,
 * and nothing can be tried. (Push tokens and PushMagic, which are 128+ random bits, keep plain SHA-256 hashes: the
 * analyzer compares them across runs and captures.)
 */
let tagKey = randomBytes(32);

/** The run's tag key, for a thread that must tag alike (the capture writer). */
export function currentTagKey(): Buffer {
  return tagKey;
}

export function useTagKey(key: Uint8Array): void {
  tagKey = Buffer.from(key);
}

/** `<redacted:XXXXXXXX>`: strings are keyed as UTF-8, data as its raw bytes, numbers as their decimal text. */
export function secretTag(value: unknown): string {
  let bytes: string | Uint8Array;
  if (typeof value === 'string' || value instanceof Uint8Array) bytes = value;
  else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') bytes = String(value);
  else if (value instanceof Date) bytes = value.toISOString();
  else bytes = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '';
  return `<redacted:${createHmac('sha256', tagKey).update(bytes).digest('hex').slice(0, 8)}>`;
}

/** Lower-case hex, the form APNs takes a device token in (the path of `POST /3/device/<hex>`). */
export function tokenHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
