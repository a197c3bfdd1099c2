/**
 * Realistic bodies for the benchmarks: device statuses as small as Apple's, and an InstalledApplicationList
 * response shaped like an iPhone's (one dict per app, the keys iOS reports) grown to a target size.
 */
import * as plist from 'plist';

export function installedApplicationList(targetBytes: number, seed = 1): Buffer {
  const apps: plist.PlistValue[] = [];
  const body = (list: plist.PlistValue[]) =>
    Buffer.from(
      plist.build({
        CommandUUID: '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55',
        InstalledApplicationList: list,
        Status: 'Acknowledged',
        UDID: '00008030-001A2B3C4D5E802E',
      }),
    );
  // Each app entry is ~700 bytes of XML; grow, then trim to just under the target.
  let i = 0;
  for (;;) {
    const n = seed * 7919 + i;
    apps.push({
      AdHocCodeSigned: false,
      AppStoreVendable: n % 3 !== 0,
      BetaApp: false,
      BundleSize: 10_000_000 + ((n * 7_654_321) % 300_000_000),
      DeviceBasedVPP: n % 5 === 0,
      DynamicSize: 100_000 + ((n * 12_345) % 90_000_000),
      ExternalVersionIdentifier: 800_000_000 + n,
      HasUpdateAvailable: n % 7 === 0,
      Identifier: `com.example.vendor${n % 97}.app${n}`,
      Installing: false,
      IsAppClip: false,
      IsValidated: true,
      Name: n % 11 === 0 ? `Über App ${n} — Ünïcödé 📱` : `Example App ${n}`,
      ShortVersion: `${1 + (n % 9)}.${n % 20}.${n % 7}`,
      Version: String(1000 + n),
    });
    i++;
    if (i % 50 === 0 && body(apps).length >= targetBytes) break;
  }
  while (apps.length > 1 && body(apps).length > targetBytes) apps.pop();
  return body(apps);
}

export const statusBodies = {
  idle: Buffer.from(plist.build({ Status: 'Idle', UDID: '00008030-001A2B3C4D5E802E' })),
  notNow: Buffer.from(
    plist.build({ CommandUUID: '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55', Status: 'NotNow', UDID: '00008030-001A2B3C4D5E802E' }),
  ),
  acknowledged: Buffer.from(
    plist.build({ CommandUUID: '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55', Status: 'Acknowledged', UDID: '00008030-001A2B3C4D5E802E' }),
  ),
};
