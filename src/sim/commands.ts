/**
 * What simulated devices answer: plausible result keys per RequestType, including an InstalledApplicationList
 * grown to a target size (the body that stresses decoders and proxies), and the commands the reference server
 * hands out.
 */
import * as plist from 'plist';
import type { Rng } from './rng.js';

export const DEMO_COMMANDS: readonly string[] = [
  'DeviceInformation',
  'InstallProfile',
  'InstalledApplicationList',
  'ProfileList',
  'SecurityInfo',
  'InstallApplication',
  'CertificateList',
  'RemoveProfile',
  'Settings',
];

export interface DeviceLike {
  udid: string;
  serial: string;
  model: string;
  osVersion: string;
  name: string;
}

/** Result keys of an Acknowledged report for `requestType`. */
export function resultFor(requestType: string, d: DeviceLike, opts: { appListBytes?: number } = {}): Record<string, plist.PlistValue> {
  switch (requestType) {
    case 'DeviceInformation':
      return {
        QueryResponses: { DeviceName: d.name, OSVersion: d.osVersion, ProductName: d.model, Model: d.model, SerialNumber: d.serial, UDID: d.udid },
      };
    case 'InstalledApplicationList':
      return { InstalledApplicationList: appList(opts.appListBytes ?? 8_000, d.serial.length) };
    case 'ProfileList':
      return { ProfileList: [{ PayloadIdentifier: 'com.example.mdm', PayloadDisplayName: 'MDM', PayloadUUID: '5E3B1C2A-0000-4000-8000-000000000001', IsManaged: true }] };
    case 'SecurityInfo':
      return { SecurityInfo: { HardwareEncryptionCaps: 3, PasscodePresent: true, PasscodeCompliant: true } };
    case 'CertificateList':
      return { CertificateList: [{ CommonName: 'Example Root', IsIdentity: false }] };
    default:
      return {};
  }
}

function appEntry(n: number): Record<string, plist.PlistValue> {
  return {
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
  };
}

/** About 700 bytes of XML per app: enough entries for roughly `bytes`. */
function appList(bytes: number, seed: number): Record<string, plist.PlistValue>[] {
  const n = Math.max(1, Math.round(bytes / 700));
  return Array.from({ length: n }, (_, i) => appEntry(seed * 7919 + i));
}

/** A complete InstalledApplicationList response of at most `targetBytes`, deterministic for a seed. */
export function installedApplicationList(targetBytes: number, seed = 1): Buffer {
  const body = (list: plist.PlistValue[]) =>
    Buffer.from(plist.build({ CommandUUID: '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55', InstalledApplicationList: list, Status: 'Acknowledged', UDID: '00008030-001A2B3C4D5E802E' }));
  const apps: plist.PlistValue[] = appList(targetBytes, seed);
  while (apps.length > 1 && body(apps).length > targetBytes) apps.splice(Math.max(1, Math.floor(apps.length * 0.98)));
  while (body([...apps, appEntry(seed * 7919 + apps.length)]).length <= targetBytes) apps.push(appEntry(seed * 7919 + apps.length));
  return body(apps);
}

export function randomCommand(rng: Rng): string {
  return DEMO_COMMANDS[Math.floor(rng() * DEMO_COMMANDS.length)];
}
