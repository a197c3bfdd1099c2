/**
 * Redaction: secrets become `<redacted:XXXXXXXX>` in everything mdmtap writes or shows. Forwarded traffic
 * is never touched; this only shapes copies. Matching is by key name anywhere in the tree, because a missed
 * secret costs more than an over-redacted field.
 */
import * as plist from 'plist';
import type { PlistValue } from '../plist/value.js';
import { isDict } from '../plist/value.js';
import { secretTag } from './hash.js';
import { decodePlist } from '../plist/decode.js';
import { isBinaryPlist } from '../plist/binary.js';
import { unescapeXml } from '../plist/entities.js';

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
  // DeviceInformation: the user channel's push token.
  'PushToken',
  // SCEP challenges (profiles, DDM credential assets) and a DDM identity asset's PKCS#12 data.
  'Challenge',
  'Identity',
  // App Store redemption codes (ApplyRedemptionCode, ManagedApplicationList).
  'RedemptionCode',
  'UnusedRedemptionCode',
  // The watch-pairing error's copy of the SecurityToken.
  'security-token',
]);

/** Names compared without case: a managed app's configuration spells `password`, `pin` or `PASSWORD` as it likes. */
const SECRET_KEYS_FOLDED: ReadonlySet<string> = new Set([...SECRET_KEYS].map((k) => k.toLowerCase()));

/** Any key naming a recovery key, a password or a secret is secret, whatever the command calls it. */
const SECRET_PATTERN = /RecoveryKey|Password|Passphrase|Secret/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS_FOLDED.has(key.toLowerCase()) || SECRET_PATTERN.test(key);
}

/** A payload whose content is a private key: a profile's PKCS#12 payload keeps it in PayloadContent. */
const KEY_PAYLOAD_TYPES: ReadonlySet<string> = new Set(['com.apple.security.pkcs12']);

/** Whether `key` of `dict` holds a secret: by its name, or as the content of a private-key payload. */
function isSecretField(dict: Record<string, PlistValue>, key: string): boolean {
  return isSecretKey(key) || (key === 'PayloadContent' && typeof dict.PayloadType === 'string' && KEY_PAYLOAD_TYPES.has(dict.PayloadType));
}

/**
 * How deep a tree is walked. Decoded plists are bounded by the decoder already; JSON.parse is not, and a body of
 * a few hundred KB nested 100,000 deep overflowed the stack here. Deeper trees throw TooDeep, and the caller
 * falls back to the byte-level scan.
 */
const MAX_WALK_DEPTH = 1000;

class TooDeep extends Error {}

/** Whether any key in the tree names a secret. */
export function hasSecret(value: PlistValue, depth = 0): boolean {
  if (depth > MAX_WALK_DEPTH) throw new TooDeep('nested too deep to search for secrets');
  if (Array.isArray(value)) return value.some((v) => hasSecret(v, depth + 1));
  if (isDict(value)) {
    for (const k of Object.keys(value)) if (isSecretField(value, k) || hasSecret(value[k], depth + 1)) return true;
  }
  return false;
}

/** A deep copy with every secret value replaced by its tag. */
export function redactPlist(value: PlistValue, depth = 0): PlistValue {
  if (depth > MAX_WALK_DEPTH) throw new TooDeep('nested too deep to redact');
  if (Array.isArray(value)) return value.map((v) => redactPlist(v, depth + 1));
  if (isDict(value)) {
    const out: Record<string, PlistValue> = {};
    for (const k of Object.keys(value)) {
      const v = value[k];
      const r = isSecretField(value, k) ? secretTag(v) : redactPlist(v, depth + 1);
      if (k === '__proto__') Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
      else out[k] = r;
    }
    return out;
  }
  return value;
}

const SECRET_HEADERS = new Set(['mdm-signature', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** Credentials a server stack invents a header for (`x-api-key`, `x-auth-token`, `x-session-id`…). */
const SECRET_HEADER_PATTERN = /auth|token|secret|passw|api-?key|session|cookie|signature/i;

/** Headers (lower-case names) with signatures, credentials and the forwarded client certificate tagged. */
export function redactHeaders(h: Record<string, string>, extraNames: string[] = []): Record<string, string> {
  const extra = new Set(extraNames.map((n) => n.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    const name = k.toLowerCase();
    out[k] = SECRET_HEADERS.has(name) || SECRET_HEADER_PATTERN.test(name) || extra.has(name) ? secretTag(v) : v;
  }
  return out;
}

/** A request target with the values of secret query parameters (`?token=…&password=…`) tagged. */
export function redactPath(path: string): string {
  const q = path.indexOf('?');
  if (q === -1) return path;
  const query = path.slice(q + 1).replace(/([^&=#]+)=([^&#]*)/g, (whole, name: string, value: string) => {
    let key = name;
    try {
      key = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // a malformed escape: judged as written
    }
    return isSecretKey(key) || SECRET_HEADER_PATTERN.test(key) ? `${name}=${encodeURIComponent(secretTag(value))}` : whole;
  });
  return `${path.slice(0, q + 1)}${query}`;
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
  'Passp', 'KeyExport', 'RecoveryKey', 'Payload', 'Secret', 'Redemption', '&#', '[CDATA[', '!--', '\\u',
].map((n) => Buffer.from(n, 'latin1'));

/**
 * What bodies up to SMALL_BODY are searched for besides: keys Apple's large reports never carry (SCEP challenges,
 * identity assets, PKCS#12 payloads, a pairing error's token) and the other casings of every name (a managed app's
 * configuration spells `password` or `PIN` as it likes; short names only where delimited, since 'pin' occurs in
 * ordinary text). Lower-case needles are slow on large bodies — a 500 KB InstalledApplicationList took 5.3 ms with
 * them against 0.38 ms without — and the large bodies are devices' inventories, in Apple's spelling.
 */
const SMALL_BODY_NEEDLES: readonly Buffer[] = [
  'Challenge', 'Identity', 'security-token', 'pkcs12',
  'PASSW', 'PASSC', 'passc', 'PASSP', 'passp', 'secret', 'SECRET', 'challenge', 'CHALLENGE', 'identity', 'IDENTITY',
  'redemption', 'REDEMPTION', 'recoverykey', 'RECOVERYKEY', 'payload', 'PAYLOAD', 'magic', 'MAGIC', 'TOKEN',
  '"pin"', '>pin<', '"Pin"', '>Pin<', 'token', 'digestr', 'DIGESTR', 'profiledata', 'PROFILEDATA', 'keyexport', 'KEYEXPORT',
].map((n) => Buffer.from(n, 'latin1'));
const SMALL_BODY = 256 * 1024;

/** The needles that are key names (not markup), and a needle spelt in UTF-16 of either byte order. */
const names = (needles: readonly Buffer[]): Buffer[] => needles.filter((n) => /^[A-Za-z]/.test(n.toString('latin1')));
const utf16 = (n: Buffer, bigEndian: boolean): Buffer =>
  Buffer.from([...n.toString('latin1')].flatMap((c) => (bigEndian ? [0, c.charCodeAt(0)] : [c.charCodeAt(0), 0])));

/** The needles as binary plists spell key strings: ASCII, and UTF-16BE. */
const binaryForms = (needles: readonly Buffer[]): Buffer[] => names(needles).flatMap((n) => [n, utf16(n, true)]);
const SECRET_NEEDLES_BINARY = binaryForms(SECRET_NEEDLES);
const SMALL_BODY_NEEDLES_BINARY = binaryForms(SMALL_BODY_NEEDLES);

/** UTF-16 text (a plist with a byte-order mark, which Apple's parser reads and mdmtap's does not): both orders. */
const SECRET_NEEDLES_UTF16: readonly Buffer[] = names([...SECRET_NEEDLES, ...SMALL_BODY_NEEDLES]).flatMap((n) => [utf16(n, true), utf16(n, false)]);

function isUtf16(buf: Buffer): boolean {
  return buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff));
}

const uncovered: string[] = [];
// Every secret name, in its own, lower and upper case, contains a needle (or, for a short one, is one when quoted or
// between tags).
for (const base of [...SECRET_KEYS, 'RecoveryKey', 'Password', 'Passphrase', 'Secret']) {
  for (const name of [base, base.toLowerCase(), base.toUpperCase()]) {
    const covered = [...SECRET_NEEDLES, ...SMALL_BODY_NEEDLES].some((n) => {
      const t = n.toString('latin1');
      return name.includes(t) || t === `"${name}"` || t === `>${name}<`;
    });
    if (!covered) uncovered.push(name);
  }
}
if (uncovered.length) throw new Error(`redact: no search fragment covers the secret keys ${uncovered.join(', ')}`);

/**
 * Whether a body could hold a secret, decided by native byte searches (a few GB/s), so the great majority of
 * bodies, and the biggest ones (InstalledApplicationList, ProfileList), are never decoded just to be stored.
 * A binary plist spells its keys in ASCII or UTF-16BE: both are searched.
 */
export function mayHoldSecret(buf: Buffer): boolean {
  if (isUtf16(buf)) return SECRET_NEEDLES_UTF16.some((n) => buf.includes(n));
  const binary = isBinaryPlist(buf);
  for (const n of binary ? SECRET_NEEDLES_BINARY : SECRET_NEEDLES) if (buf.includes(n)) return true;
  if (buf.length > SMALL_BODY) return false;
  for (const n of binary ? SMALL_BODY_NEEDLES_BINARY : SMALL_BODY_NEEDLES) if (buf.includes(n)) return true;
  return false;
}

/**
 * A body fit to store or export. Fails closed: one that holds no secret keeps its exact bytes; a plist that
 * decodes and holds one is re-encoded redacted (as XML); one that cannot be decoded in full — cut at
 * `--max-body` (`truncated`), malformed, or a value XML cannot carry — never goes out as it is: XML and other text
 * has the value after every secret key blanked by a byte-level scan, and a binary plist that names a secret key
 * (whose values cannot be located without its offset table) is withheld with a note saying why.
 */
export function redactBody(bytes: Uint8Array, opts: { truncated?: boolean } = {}): Uint8Array {
  if (bytes.length === 0) return bytes;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!mayHoldSecret(buf)) return bytes;
  const binary = isBinaryPlist(buf);
  if (!opts.truncated) {
    const decoded = decodePlist(buf);
    if (decoded.ok) {
      if (!hasSecret(decoded.value)) return bytes;
      try {
        const xml = plist.build(toBuildable(redactPlist(decoded.value)));
        return Buffer.from(xml.replace(BIGINT_MARK, (_m, digits: string) => `<integer>${digits}</integer>`));
      } catch {
        // A value XML cannot carry (control characters a device put in a string): fall through to the scan.
      }
    }
  }
  const why = opts.truncated ? 'was cut at the capture limit' : 'could not be decoded';
  if (!binary && looksLikeJson(buf)) {
    // DDM speaks JSON (declarations, their assets): a secret key anywhere in it, whatever its value's type. JSON
    // that does not parse (cut, too large, malformed) is withheld: a text scan cannot tell where its values end.
    const json = opts.truncated ? undefined : redactJson(buf);
    return json ?? Buffer.from(`<withheld by mdmtap: a JSON body that ${why} names a secret key; ${bytes.length} bytes, ${secretTag(bytes)}>`);
  }
  if (binary || buf.includes(0)) {
    return Buffer.from(`<withheld by mdmtap: a binary body that ${why} names a secret key; ${bytes.length} bytes, ${secretTag(bytes)}>`);
  }
  return Buffer.from(scrubJson(redactXmlText(buf.toString('latin1'))), 'latin1');
}

/** JSON larger than this is left to the byte-level scan (a declaration is a few KB). */
const MAX_JSON_REDACT = 4 * 1024 * 1024;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The body after a UTF-8 byte-order mark, if it has one. */
function withoutBom(buf: Buffer): Buffer {
  return buf.subarray(0, 3).equals(UTF8_BOM) ? buf.subarray(3) : buf;
}

/** Whether a body is JSON by its first character (`{` or `[`, after white space or a byte-order mark). */
function looksLikeJson(buf: Buffer): boolean {
  const first = withoutBom(buf).find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  return first === 0x7b || first === 0x5b;
}

/** A JSON body with every secret key's value tagged, or undefined when it does not parse. */
function redactJson(buf: Buffer): Buffer | undefined {
  if (buf.length > MAX_JSON_REDACT) return undefined;
  let value: PlistValue;
  try {
    value = JSON.parse(withoutBom(buf).toString('utf8')) as PlistValue;
  } catch {
    return undefined;
  }
  try {
    if (!hasSecret(value)) return buf;
    return Buffer.from(JSON.stringify(redactPlist(value)));
  } catch {
    // Nested past what is walked, and it names a secret key (mayHoldSecret): withheld, as it cannot be searched.
    return Buffer.from(`<withheld by mdmtap: a JSON body nested too deep to search names a secret key; ${buf.length} bytes, ${secretTag(buf)}>`);
  }
}

/**
 * Byte-level redaction of XML that does not decode: every `<key>` whose name (entities and CDATA resolved) is a
 * secret has the content of the element after it replaced by its tag — to the matching close tag, or to the end
 * of the text when it is cut; text that follows the key outside any element is blanked up to the next tag. Keys
 * inside comments or CDATA count too: a false match costs a field, a miss costs a secret. Works on latin1 text,
 * so every byte it does not blank is kept exactly.
 */
export function redactXmlText(s: string): string {
  const out: string[] = [];
  let copied = 0;
  let i = 0;
  for (;;) {
    const k = s.indexOf('<key', i);
    if (k === -1) break;
    const gt = s.indexOf('>', k);
    if (gt === -1) break;
    i = gt + 1;
    if (s[gt - 1] === '/') continue;
    const close = s.indexOf('</key', gt);
    if (close === -1) break; // the body ends inside a key name: no value follows it
    const afterKey = s.indexOf('>', close);
    if (afterKey === -1) break;
    i = afterKey + 1;
    if (!isSecretKey(keyText(s.slice(gt + 1, close)).trim())) continue;
    const [from, to] = valueSpan(s, afterKey + 1);
    if (to > from) {
      out.push(s.slice(copied, from), secretTag(Buffer.from(s.slice(from, to), 'latin1')));
      copied = to;
    }
    i = Math.max(i, to);
  }
  out.push(s.slice(copied));
  return out.join('');
}

/** Where the value after a secret key lies: the content of the next element, or bare text up to the next tag. */
function valueSpan(s: string, at: number): [number, number] {
  let v = at;
  for (;;) {
    while (v < s.length && /\s/.test(s[v])) v++;
    if (s.startsWith('<!--', v)) {
      const end = s.indexOf('-->', v + 4);
      if (end === -1) return [v, s.length];
      v = end + 3;
      continue;
    }
    break;
  }
  if (v >= s.length) return [v, v];
  if (s[v] !== '<') {
    const lt = s.indexOf('<', v);
    return [v, lt === -1 ? s.length : lt];
  }
  const gt = s.indexOf('>', v);
  if (gt === -1) return [v, s.length];
  if (s[gt - 1] === '/') return [gt + 1, gt + 1]; // <true/>, <string/>: nothing to hide
  // Content to the matching close, counting nested elements; CDATA and comments are passed over whole.
  let depth = 1;
  let j = gt + 1;
  while (depth > 0) {
    const lt = s.indexOf('<', j);
    if (lt === -1) return [gt + 1, s.length];
    if (s.startsWith('<![CDATA[', lt)) {
      const end = s.indexOf(']]>', lt);
      if (end === -1) return [gt + 1, s.length];
      j = end + 3;
      continue;
    }
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt);
      if (end === -1) return [gt + 1, s.length];
      j = end + 3;
      continue;
    }
    const tgt = s.indexOf('>', lt);
    if (tgt === -1) return [gt + 1, s.length];
    if (s[lt + 1] === '/') depth--;
    else if (s[tgt - 1] !== '/' && s[lt + 1] !== '?' && s[lt + 1] !== '!') depth++;
    if (depth === 0) return [gt + 1, lt];
    j = tgt + 1;
  }
  return [gt + 1, s.length];
}

/** A key's text as a plist reader sees it: CDATA unwrapped, comments dropped, entities resolved. */
function keyText(raw: string): string {
  const t = raw.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1').replace(/<!--[\s\S]*?-->/g, '');
  return unescapeXml(Buffer.from(t, 'latin1').toString('utf8'));
}

/** JSON-ish text (`"Secret": "…"`, `Secret = "…"`) loses its values: what does not decode as a plist may be JSON. */
function scrubJson(text: string): string {
  return text.replace(/("([A-Za-z_]+)"\s*[:=]\s*)"([^"]*)"/g, (whole, head: string, key: string, val: string) =>
    isSecretKey(key) ? `${head}"${secretTag(val)}"` : whole,
  );
}

/** Best effort on text that would not decode (kept for callers outside the capture): the byte-level scan. */
export function scrubText(text: string): string {
  return scrubJson(redactXmlText(text));
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
