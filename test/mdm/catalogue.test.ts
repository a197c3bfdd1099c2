import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandInfo, isKnownRequestType, IOS_NEVER_NOTNOW, platformOf, checkinMessageTypes } from '../../src/mdm/catalogue.js';
import { COMMANDS } from '../../src/mdm/catalogue.generated.js';
import { fixture } from '../helpers/fixtures.js';
import { decodePlist } from '../../src/plist/decode.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Apple's schemas live beside the repository in the development workspace, not in a clean clone.
const SCHEMAS = join(ROOT, '..', 'shared', 'apple-device-management');

describe('command catalogue', () => {
  it("knows Apple's commands with platforms and channels", () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(60);
    const lock = commandInfo('DeviceLock')!;
    expect(lock.platforms.iOS?.introduced).toBeTruthy();
    expect(lock.platforms.macOS).toBeDefined();
    expect(lock.payloadKeys).toContain('PIN');
    expect(commandInfo('InstalledApplicationList')?.platforms.macOS?.userChannel).toBe(true);
    expect(isKnownRequestType('DeclarativeManagement')).toBe(true);
    expect(isKnownRequestType('NoSuchCommand')).toBe(false);
    expect(checkinMessageTypes).toContain('TokenUpdate');
    for (const rt of IOS_NEVER_NOTNOW) expect(isKnownRequestType(rt), rt).toBe(true);
  });

  it.skipIf(!existsSync(SCHEMAS))('regenerates byte-identical from the schemas', () => {
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
