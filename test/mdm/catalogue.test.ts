import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandInfo, IOS_NEVER_NOTNOW, platformOf, supportSummary, unsupportedOn } from '../../src/mdm/catalogue.js';
import { COMMANDS } from '../../src/mdm/catalogue.generated.js';
import { fixture } from '../helpers/fixtures.js';
import { decodePlist } from '../../src/plist/decode.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCHEMAS = join(ROOT, 'schemas', 'apple-device-management');

describe('command catalogue', () => {
  it("knows Apple's commands with platforms and channels", () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(60);
    const lock = commandInfo('DeviceLock')!;
    expect(lock.platforms.iOS?.introduced).toBeTruthy();
    expect(lock.platforms.macOS).toBeDefined();
    expect(lock.platforms.tvOS).toBeUndefined();
    expect(commandInfo('InstalledApplicationList')?.platforms.macOS?.userChannel).toBe(true);
    expect(commandInfo('DeclarativeManagement')).toBeDefined();
    expect(commandInfo('NoSuchCommand')).toBeUndefined();
    for (const rt of IOS_NEVER_NOTNOW) expect(commandInfo(rt), rt).toBeDefined();
  });

  it("says where Apple supports a command, and where its schema rules it out", () => {
    expect(supportSummary(commandInfo('DeviceLock')!)).toBe('iOS 4.0+, macOS 10.7+ (device channel), visionOS 2.0+, watchOS 10.0+');
    expect(supportSummary(commandInfo('LogOutUser')!)).toBe('iOS 9.3+ (Shared iPad only)');
    // A platform the schema leaves out.
    expect(unsupportedOn('DeviceLock', 'tvOS', 'device')).toMatch(/lists DeviceLock for iOS, macOS, visionOS, watchOS, not tvOS/);
    // A channel marked false: macOS directly, iOS through its Shared iPad channels.
    expect(unsupportedOn('DeviceLock', 'macOS', 'user')).toMatch(/user channel of macOS/);
    expect(unsupportedOn('DeviceLock', 'iOS', 'user')).toMatch(/user channel of iOS/);
    expect(unsupportedOn('InstalledApplicationList', 'macOS', 'user')).toBeUndefined();
    expect(unsupportedOn('DeviceLock', 'macOS', 'device')).toBeUndefined();
    expect(unsupportedOn('DeviceLock', 'iOS', 'device')).toBeUndefined();
    // What mdmtap cannot tell is never called unsupported.
    expect(unsupportedOn('DeviceLock', undefined, 'user')).toBeUndefined();
    expect(unsupportedOn('VendorCommand', 'macOS', 'user')).toBeUndefined();
  });

  it('regenerates byte-identical from the schemas committed with it', () => {
    expect(existsSync(join(SCHEMAS, 'LICENSE.txt'))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'mdmtap-cat-'));
    try {
      const out = join(dir, 'catalogue.generated.ts');
      execFileSync(process.execPath, [join(ROOT, 'scripts', 'gen-catalogue.mjs'), SCHEMAS, out], { stdio: 'pipe' });
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(ROOT, 'src', 'mdm', 'catalogue.generated.ts'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells the platform from what real devices report', () => {
    const facts = (f: string) => {
      const r = decodePlist(fixture(f));
      if (!r.ok) throw new Error(r.error.message);
      const v = r.value as Record<string, any>;
      const q = v.QueryResponses ?? v;
      return { productName: q.ProductName, model: q.Model, modelName: q.ModelName };
    };
    expect(platformOf(facts('commandment/Authenticate/IOS-11.3.1.xml'))).toBe('iOS');
    expect(platformOf(facts('commandment/Authenticate/10.12.2.xml'))).toBe('macOS');
    expect(platformOf(facts('commandment/DeviceInformation/iOS-11.3.1.xml'))).toBe('iOS');
    expect(platformOf(facts('commandment/DeviceInformation/macOS-10.13.1.xml'))).toBe('macOS');
    expect(platformOf({ model: 'VMware7,1' })).toBe('macOS');
    expect(platformOf({ productName: 'AppleTV5,3' })).toBe('tvOS');
    expect(platformOf({ productName: 'Toaster1,1' })).toBeUndefined();
  });
});
