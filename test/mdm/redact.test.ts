import { describe, expect, it } from 'vitest';
import * as plist from 'plist';
import { mayHoldSecret, redactBody, redactHeaders, redactPath, redactPlist, scrubText, SECRET_KEYS } from '../../src/mdm/redact.js';
import { parseJson } from '../../src/mdm/ddm.js';
import { decodePlist } from '../../src/plist/decode.js';
import type { PlistValue } from '../../src/plist/value.js';
import { fixture } from '../helpers/fixtures.js';
import { currentTagKey, secretTag, sha256Hex, useTagKey } from '../../src/mdm/hash.js';

function decoded(bytes: Uint8Array): PlistValue {
  const r = decodePlist(bytes);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** Every textual form a secret could leak in: as text, base64 and hex of its bytes. */
function forms(v: unknown): string[] {
  if (v instanceof Uint8Array) {
    const b = Buffer.from(v);
    return [b.toString('base64'), b.toString('hex'), b.toString('base64').replace(/=+$/, '')].filter((s) => s.length >= 6);
  }
  return typeof v === 'string' && v.length >= 4 ? [v] : [];
}

describe('redaction', () => {
  for (const f of ['commandment/TokenUpdate/iOS-11.3.1.xml', 'commandment/TokenUpdate/10.12.2-user.xml', 'nanomdm/TokenUpdate.1.plist', 'nanomdm/TokenUpdate.2.plist']) {
    it(`leaves no Token, PushMagic or UnlockToken of ${f} in the stored body`, () => {
      const bytes = fixture(f);
      const value = decoded(bytes) as Record<string, PlistValue>;
      const secrets = ['Token', 'PushMagic', 'UnlockToken'].flatMap((k) => forms(value[k]));
      expect(secrets.length).toBeGreaterThanOrEqual(2);
      const out = Buffer.from(redactBody(bytes)).toString('utf8');
      for (const s of secrets) expect(out).not.toContain(s);
      expect(out).toMatch(/&lt;redacted:[0-9a-f]{8}&gt;/);
      // What is not secret survives, so the stored body still says who and what.
      const back = decoded(Buffer.from(out)) as Record<string, PlistValue>;
      expect(back.MessageType).toBe('TokenUpdate');
      expect(back.UDID ?? back.EnrollmentID).toBe(value.UDID ?? value.EnrollmentID);
    });
  }

  it('DDM JSON: a credential asset\'s password and a declaration\'s payload are tagged at any depth, whatever their type', () => {
    const credential = { Type: 'com.apple.credential.usernameandpassword', UserName: 'alice', Password: 'hunter2-DDM' };
    const declaration = { Type: 'com.apple.configuration.account.mail', Identifier: 'mail', ServerToken: 't1', Payload: { IncomingServer: { HostName: 'imap.example.com', Password: { Value: 'nested-secret' } } } };
    for (const v of [credential, declaration, [credential]]) {
      const bytes = Buffer.from(JSON.stringify(v, null, 2));
      const out = Buffer.from(redactBody(bytes)).toString('utf8');
      expect(out).not.toContain('hunter2-DDM');
      expect(out).not.toContain('nested-secret');
      // Still JSON, with what is not secret kept.
      const back = JSON.parse(out) as unknown;
      expect(JSON.stringify(back)).toMatch(/<redacted:[0-9a-f]{8}>/);
    }
    expect(JSON.parse(Buffer.from(redactBody(Buffer.from(JSON.stringify(credential)))).toString())).toMatchObject({ Type: credential.Type, UserName: 'alice' });
    // JSON that names no secret keeps its exact bytes (a tokens response, a status report).
    const plain = Buffer.from(' {"SyncTokens": {"DeclarationsToken": "x", "Timestamp": "2026-11-28T00:00:00Z"}}');
    expect(Buffer.from(redactBody(plain)).equals(plain)).toBe(true);
  });

  it('withholds JSON nested too deep to walk when it names a secret key, instead of overflowing the stack', () => {
    for (const depth of [5_000, 300_000]) {
      const body = Buffer.from(`${'['.repeat(depth)}{"Token":"TOKSECRET"}${']'.repeat(depth)}`);
      const out = Buffer.from(redactBody(body)).toString('latin1');
      expect(out).not.toContain('TOKSECRET');
      expect(out).toMatch(/^<withheld by mdmtap: a JSON body nested too deep/);
    }
    const harmless = Buffer.from(`${'['.repeat(5_000)}1${']'.repeat(5_000)}`);
    expect(Buffer.from(redactBody(harmless)).equals(harmless)).toBe(true);
  });

  it("a PIN's tag is keyed per run: equal PINs correlate, and trying the million PINs does not find it", () => {
    const tag = secretTag('785079');
    expect(tag).toBe(secretTag('785079'));
    expect(tag).not.toBe(secretTag('785080'));
    const found: string[] = [];
    for (let pin = 0; pin < 1_000_000; pin++) {
      const p = String(pin).padStart(6, '0');
      if (tag === `<redacted:${sha256Hex(p).slice(0, 8)}>`) found.push(p);
    }
    expect(found).toEqual([]);
    // Another run, another key: the same PIN gives another tag.
    const key = currentTagKey();
    try {
      useTagKey(Buffer.alloc(32, 7));
      expect(secretTag('785079')).not.toBe(tag);
    } finally {
      useTagKey(key);
    }
  });

  it('redacts secret keys at any depth and keeps everything else deep-equal', () => {
    const cmd: PlistValue = {
      CommandUUID: 'C-1',
      Command: { RequestType: 'DeviceLock', PIN: '123456', Message: 'Call IT' },
      Nested: [{ NewPassword: 'hunter2', CurrentPassword: 'old', Other: 1 }, { FileVaultUnlock: { Password: 'pw' } }],
      Big: 2n ** 60n,
    };
    const r = redactPlist(cmd) as Record<string, any>;
    expect(r.Command.PIN).toMatch(/^<redacted:[0-9a-f]{8}>$/);
    expect(r.Command.Message).toBe('Call IT');
    expect(r.Command.RequestType).toBe('DeviceLock');
    expect(r.Nested[0].NewPassword).toMatch(/^<redacted:/);
    expect(r.Nested[0].Other).toBe(1);
    expect(r.Nested[1].FileVaultUnlock.Password).toMatch(/^<redacted:/);
    expect(r.Big).toBe(2n ** 60n);
    expect((cmd as any).Command.PIN).toBe('123456');
    const body = Buffer.from(redactBody(Buffer.from(plist.build(cmd as plist.PlistValue)))).toString();
    expect(body).not.toContain('123456');
    expect(body).not.toContain('hunter2');
    expect(body).toContain(`<integer>${2n ** 60n}</integer>`);
    expect(decoded(Buffer.from(body))).toMatchObject({ Big: 2n ** 60n });
  });

  it('equal secrets give equal tags, different secrets different ones', () => {
    const a = redactPlist({ PushMagic: 'same' }) as Record<string, string>;
    const b = redactPlist({ Token: 'same' }) as Record<string, string>;
    const c = redactPlist({ PushMagic: 'other' }) as Record<string, string>;
    expect(a.PushMagic).toBe(b.Token);
    expect(a.PushMagic).not.toBe(c.PushMagic);
  });

  it('covers every secret PROTOCOL.md lists', () => {
    for (const k of ['Token', 'PushMagic', 'UnlockToken', 'BootstrapToken', 'TokenData', 'SecurityToken', 'DigestResponse', 'AuthToken', 'PIN', 'WiFiProfileData', 'MDMProfileData', 'ActivationLockBypassCode', 'CurrentPassword', 'NewPassword', 'Password', 'passwordHash', 'PrivateKeyExport', 'PrivateKeyExportPassword', 'EncryptedNewRecoveryKey', 'FDE_PersonalRecoveryKeyCMS', 'Payload']) {
      expect(SECRET_KEYS.has(k), k).toBe(true);
    }
  });

  it('scrubs undecodable text bodies after secret keys, and replaces undecodable binary bodies', () => {
    const broken = '<plist><dict><key>Token</key><data>QUJDREVGR0g=</data><key>PushMagic</key><string>MAGIC-123</string><key>UDID</key><string>U-1</string><key>Oops</key><strin>x</dict>';
    const out = Buffer.from(redactBody(Buffer.from(broken))).toString();
    expect(out).not.toContain('QUJDREVGR0g=');
    expect(out).not.toContain('MAGIC-123');
    expect(out).toContain('<string>U-1</string>');
    expect(scrubText('{"PushMagic": "abc-def", "udid": "u"}')).not.toContain('abc-def');
    // An undecodable binary plist naming a secret key is withheld (its values cannot be located without the offset
    // table); one that names none keeps its bytes.
    const bin = Buffer.concat([Buffer.from('bplist00'), Buffer.from([0x53]), Buffer.from('PIN'), Buffer.from([0x54]), Buffer.from('1234')]);
    expect(Buffer.from(redactBody(bin)).toString()).toMatch(/^<withheld by mdmtap: a binary body that could not be decoded names a secret key; 17 bytes, <redacted:[0-9a-f]{8}>>$/);
    const harmless = Buffer.concat([Buffer.from('bplist00'), Buffer.from([0, 1, 2, 3])]);
    expect(Buffer.from(redactBody(harmless))).toEqual(harmless);
    expect(redactBody(new Uint8Array(0))).toHaveLength(0);
  });

  it('tags signature, credential and client-certificate headers', () => {
    const h = redactHeaders({ 'mdm-signature': 'MIAGCSqGSIb3', authorization: 'Basic abc', cookie: 'a=b', 'x-client-cert': ':MIIB:', 'content-type': 'application/x-apple-aspen-mdm' }, ['X-Client-Cert']);
    expect(Object.values(h).join(' ')).not.toMatch(/MIAGCSqGSIb3|Basic abc|a=b|:MIIB:/);
    expect(h['content-type']).toBe('application/x-apple-aspen-mdm');
  });

  it('builds valid XML even when a string holds markup', () => {
    const out = Buffer.from(redactBody(Buffer.from(plist.build({ Name: '<&>', PIN: '1' })))).toString();
    expect(plist.parse(out)).toMatchObject({ Name: '<&>' });
  });
});

describe('secrets found in review (every output reads redactBody, redactHeaders and redactPath)', () => {
  const out = (body: Buffer | string, opts: { truncated?: boolean } = {}) => Buffer.from(redactBody(Buffer.from(body), opts)).toString('latin1');
  const xml = (v: PlistValue) => plist.build(v as plist.PlistValue);

  it('keys Apple names for secrets beyond the first list, and a profile\'s PKCS#12 content', () => {
    const cases: Array<[PlistValue, string]> = [
      [{ QueryResponses: { PushToken: Buffer.from('USER-PUSH-TOKEN-SECRET') } }, Buffer.from('USER-PUSH-TOKEN-SECRET').toString('base64')],
      [{ PayloadContent: [{ PayloadType: 'com.apple.security.scep', PayloadContent: { Challenge: 'SCEP-CHALLENGE-SECRET' } }] }, 'SCEP-CHALLENGE-SECRET'],
      [{ PayloadContent: [{ PayloadType: 'com.apple.security.pkcs12', PayloadContent: Buffer.from('PKCS12-KEY-SECRET') }] }, Buffer.from('PKCS12-KEY-SECRET').toString('base64')],
      [{ Command: { RequestType: 'ApplyRedemptionCode', RedemptionCode: 'REDEEM-SECRET' } }, 'REDEEM-SECRET'],
      [{ Command: { RequestType: 'InstallApplication', Configuration: { password: 'lower-case-SECRET', pin: '424242' } } }, 'lower-case-SECRET'],
    ];
    for (const [value, secret] of cases) expect(out(xml(value)), secret).not.toContain(secret);
    expect(out(xml(cases[4][0]))).not.toContain('424242');
    // A DDM identity asset (JSON): its PKCS#12 data and a watch-pairing error's token.
    expect(out(JSON.stringify({ Identity: 'UEtDUzEyLURBVEEtU0VDUkVU', Password: 'p' }))).not.toContain('UEtDUzEyLURBVEEtU0VDUkVU');
    expect(out(JSON.stringify({ code: 'WatchPairingTokenMissing', details: { 'security-token': 'WATCH-SECRET' } }))).not.toContain('WATCH-SECRET');
  });

  it('a UTF-16 plist, JSON with a byte-order mark, and JSON that does not parse never go out as they came', () => {
    const body = xml({ Command: { RequestType: 'DeviceLock', PIN: '135791' } });
    for (const bom of [Buffer.from([0xff, 0xfe]), Buffer.from([0xfe, 0xff])]) {
      const le = bom[0] === 0xff;
      const utf16 = Buffer.concat([bom, Buffer.from([...body].flatMap((c) => (le ? [c.charCodeAt(0), 0] : [0, c.charCodeAt(0)])))]);
      expect(out(utf16).replace(/\0/g, '')).not.toContain('135791');
    }
    expect(out('\ufeff{"Password": "bom-SECRET"}')).not.toContain('bom-SECRET');
    // Cut, or malformed: a quote inside the value, a number, a value that never closes.
    for (const [text, secret] of [['{"Password": "a\\"b-SECRET", "x": ', 'b-SECRET'], ['{"PIN": 424242, ', '424242'], ['{"Password": "cut-SECR', 'cut-SECR']]) {
      expect(out(text, { truncated: true }), secret).not.toContain(secret);
      expect(out(text), secret).not.toContain(secret);
    }
  });

  it('tags secret query parameters and credential headers of any name', () => {
    expect(redactPath('/checkin?token=abc123SECRET&Password=pw-SECRET&id=keep')).not.toMatch(/abc123SECRET|pw-SECRET/);
    expect(redactPath('/checkin?token=abc123SECRET&id=keep')).toContain('id=keep');
    expect(redactPath('/mdm')).toBe('/mdm');
    const h = redactHeaders({ 'x-api-key': 'KEY-SECRET', 'x-auth-token': 'TOK-SECRET', 'content-type': 'application/json' });
    expect(JSON.stringify(h)).not.toMatch(/KEY-SECRET|TOK-SECRET/);
    expect(h['content-type']).toBe('application/json');
  });

  it('a DDM body that is not JSON is reported without quoting it', () => {
    const r = parseJson(Buffer.from('{"Password": hunter2-SECRET}'));
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });
});

describe('the byte search that spares most bodies a decode', () => {
  it('keeps a body without any secret key name byte-for-byte, and finds every secret key name', () => {
    const apps = Buffer.from(plist.build({ UDID: 'U', Status: 'Acknowledged', InstalledApplicationList: [{ Name: 'Pages', Identifier: 'com.apple.Pages' }] }));
    expect(mayHoldSecret(apps)).toBe(false);
    expect(redactBody(apps)).toBe(apps);
    for (const k of [...SECRET_KEYS, 'OldRecoveryKeyX', 'WiFiPassphrase', 'XPassword']) {
      const b = Buffer.from(plist.build({ UDID: 'U', Nested: [{ [k]: 'secret-value-1' }] }));
      expect(mayHoldSecret(b), k).toBe(true);
      expect(Buffer.from(redactBody(b)).toString(), k).not.toContain('secret-value-1');
    }
  });

  it('does not trust bytes when XML could spell a key another way', () => {
    const refs = Buffer.from('<plist><dict><key>&#80;IN</key><string>4321</string></dict></plist>');
    expect(mayHoldSecret(refs)).toBe(true);
    expect(Buffer.from(redactBody(refs)).toString()).not.toContain('4321');
    const cdata = Buffer.from('<plist><dict><key><![CDATA[Pay]]>load</key><string>p-1</string></dict></plist>');
    expect(Buffer.from(redactBody(cdata)).toString()).not.toContain('p-1');
    // Binary plists spell keys in ASCII or UTF-16BE: both are searched.
    expect(mayHoldSecret(Buffer.from(plist.buildBinary({ a: 'b' })))).toBe(false);
    expect(mayHoldSecret(Buffer.from(plist.buildBinary({ PIN: '1' })))).toBe(true);
    expect(mayHoldSecret(Buffer.from(plist.buildBinary({ 'PIN\u00e9': '1' })))).toBe(true);
  });
});

describe('redaction never throws', () => {
  it('falls back to the text scrub when a value cannot be written as XML', () => {
    const body = Buffer.from('<plist><dict><key>PushMagic</key><string>M-1</string><key>Name</key><string>a\u0001b</string></dict></plist>');
    const out = Buffer.from(redactBody(body)).toString();
    expect(out).not.toContain('M-1');
  });
});
