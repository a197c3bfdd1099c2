/**
 * Redaction: secrets become `<redacted:sha256:XXXXXXXX>` in everything mdmtap writes or shows. Forwarded traffic
 * is never touched; this only shapes copies. Matching is by key name anywhere in the tree, because a missed
 * secret costs more than an over-redacted field.
 */
import * as plist from 'plist';
import type { PlistValue } from '../plist/value.js';
import { isDict } from '../plist/value.js';
import { secretTag } from './hash.js';
import { decodePlist } from '../plist/decode.js';
import { isBinaryPlist } from '../plist/binary.js';

/** Every key whose value is a secret (PROTOCOL.md's list, plus names that are always secrets). */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  // Check-in messages.
  'Token',
  'PushMagic',
  'UnlockToken',
  'BootstrapToken',
  'TokenData',
  'SecurityToken',
  'DigestResponse',
  'AuthToken',
  // Commands and their responses.
  'PIN',
  'WiFiProfileData',
  'MDMProfileData',
  'ActivationLockBypassCode',
  'CurrentPassword',
  'NewPassword',
  'Password',
  'passwordHash',
  'PrivateKeyExport',
  'PrivateKeyExportPassword',
  'EncryptedNewRecoveryKey',
  'FDE_PersonalRecoveryKeyCMS',
  'RecoveryKey',
  'PersonalRecoveryKey',
  'Payload',
  'Passcode',
  'ManagedAppleIDPassword',
  'SharedSecret',
]);

/** Any key naming a recovery key is secret, whatever the command calls it. */
const SECRET_PATTERN = /RecoveryKey|Password|Passphrase/;

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key) || SECRET_PATTERN.test(key);
}

/** Whether any key in the tree names a secret. */
export function hasSecret(value: PlistValue): boolean {
  if (Array.isArray(value)) return value.some(hasSecret);
  if (isDict(value)) {
    for (const k of Object.keys(value)) if (isSecretKey(k) || hasSecret(value[k])) return true;
  }
  return false;
}

/** A deep copy with every secret value replaced by its tag. */
export function redactPlist(value: PlistValue): PlistValue {
  if (Array.isArray(value)) return value.map(redactPlist);
  if (isDict(value)) {
    const out: Record<string, PlistValue> = {};
    for (const k of Object.keys(value)) {
      const v = value[k];
      const r = isSecretKey(k) ? secretTag(v) : redactPlist(v);
      if (k === '__proto__') Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
      else out[k] = r;
    }
    return out;
  }
  return value;
}

const SECRET_HEADERS = new Set(['mdm-signature', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

/** Headers (lower-case names) with signatures, credentials and the forwarded client certificate tagged. */
export function redactHeaders(h: Record<string, string>, extraNames: string[] = []): Record<string, string> {
  const extra = new Set(extraNames.map((n) => n.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k] = SECRET_HEADERS.has(k.toLowerCase()) || extra.has(k.toLowerCase()) ? secretTag(v) : v;
  return out;
}

/**
 * Byte strings of which every secret key name contains at least one, plus the XML constructs that could spell a
 * key without its plain bytes (character references, CDATA, comments) and JSON's \u escapes. They are fragments
 * rather than whole names because Node's native search is up to 40× faster on some patterns than on others
 * (measured on a 500 KB InstalledApplicationList: 6–60 µs each for these, ~300 µs for names like "Password").
 * Checked against SECRET_KEYS and SECRET_PATTERN when this module loads.
 */
const SECRET_NEEDLES: readonly Buffer[] = [
  'Token', 'Magic', 'DigestR', 'PIN', 'WiFiProfileData', 'MDMProfileData', 'LockBypass', 'Passw', 'passw', 'Passc',
  'Passp', 'KeyExport', 'RecoveryKey', 'Payload', 'Secret', '&#', '[CDATA[', '!--', '\\u',
].map((n) => Buffer.from(n, 'latin1'));

for (const name of [...SECRET_KEYS, 'RecoveryKey', 'Password', 'Passphrase']) {
  if (!SECRET_NEEDLES.some((n) => name.includes(n.toString('latin1')))) throw new Error(`redact: no search fragment covers the secret key ${name}`);
}

/**
 * Whether a body could hold a secret, decided by native byte searches (a few GB/s), so the great majority of
 * bodies, and the biggest ones (InstalledApplicationList, ProfileList), are never decoded just to be stored.
 * A binary plist may spell keys in UTF-16, so it always counts as possible.
 */
export function mayHoldSecret(buf: Buffer): boolean {
  if (isBinaryPlist(buf)) return true;
  for (const n of SECRET_NEEDLES) if (buf.includes(n)) return true;
  return false;
}

/**
 * A body fit to store or export: one that holds no secret keeps its exact bytes; a plist that does is
 * re-encoded redacted (as XML); an undecodable text body has the value after every secret key scrubbed; an
 * undecodable binary body is replaced by its tag.
 */
export function redactBody(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) return bytes;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!mayHoldSecret(buf)) return bytes;
  const decoded = decodePlist(buf);
  if (decoded.ok) {
    if (!hasSecret(decoded.value)) return bytes;
    try {
      const xml = plist.build(toBuildable(redactPlist(decoded.value)));
      return Buffer.from(xml.replace(BIGINT_MARK, (_m, digits: string) => `<integer>${digits}</integer>`));
    } catch {
      // A value XML cannot carry (control characters a device put in a string): fall through to the scrub.
    }
  }
  if (isBinaryPlist(buf) || buf.includes(0)) return Buffer.from(secretTag(bytes));
  return Buffer.from(scrubText(buf.toString('utf8')));
}

/** Best effort on text that would not decode: `<key>Secret</key><x>…</x>` and `"Secret": "…"` lose their values. */
export function scrubText(text: string): string {
  return text
    .replace(/(<key>\s*([A-Za-z_]+)\s*<\/key>\s*)<(\w+)>([\s\S]*?)(<\/\3>|$)/g, (whole, head: string, key: string, tag: string, val: string, close: string) =>
      isSecretKey(key) ? `${head}<${tag}>${secretTag(val.trim())}${close || ''}` : whole,
    )
    .replace(/("([A-Za-z_]+)"\s*[:=]\s*)"([^"]*)"/g, (whole, head: string, key: string, val: string) =>
      isSecretKey(key) ? `${head}"${secretTag(val)}"` : whole,
    );
}

const BIGINT_MARK = /<string>\uE000bigint:(-?\d+)<\/string>/g;

/** plist.build knows no bigint: it goes through as a marked string and comes back as an exact <integer>. */
function toBuildable(v: PlistValue): plist.PlistValue {
  if (typeof v === 'bigint') return `\uE000bigint:${v}`;
  if (Array.isArray(v)) return v.map(toBuildable);
  if (isDict(v)) {
    const out: Record<string, plist.PlistValue> = {};
    for (const k of Object.keys(v)) out[k] = toBuildable(v[k]);
    return out;
  }
  return v as plist.PlistValue;
}
