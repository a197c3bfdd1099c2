/**
 * What mdmtap knows about MDM commands: the generated catalogue of Apple's schemas (request types, platforms,
 * channels) plus Apple's NotNow facts, which the schemas do not carry.
 */
import type { DeviceFacts, Platform } from '../model/message.js';
import { COMMANDS, CHECKIN_MESSAGE_TYPES, type CommandInfo } from './catalogue.generated.js';

export type { CommandInfo };

const byRequestType = new Map(COMMANDS.map((c) => [c.requestType, c]));

export function commandInfo(requestType: string): CommandInfo | undefined {
  return byRequestType.get(requestType);
}

export function isKnownRequestType(requestType: string): boolean {
  return byRequestType.has(requestType);
}

export const checkinMessageTypes: readonly string[] = CHECKIN_MESSAGE_TYPES;

/**
 * Apple, "Handling NotNow status responses": iOS never answers NotNow to these, so a NotNow for one of them
 * from an iOS device is worth a second look (a proxy rewriting traffic, a jailbroken agent, a server bug).
 */
export const IOS_NEVER_NOTNOW: ReadonlySet<string> = new Set([
  'DeviceInformation',
  'ProfileList',
  'DeviceLock',
  'EraseDevice',
  'ClearPasscode',
  'ProvisioningProfileList',
  'InstalledApplicationList',
  'Restrictions',
]);

/**
 * Apple, "Handling NotNow status responses": in Power Nap on battery, macOS answers NotNow to every command
 * except these.
 */
export const MACOS_POWERNAP_EXEMPT: ReadonlySet<string> = new Set([
  'DeleteUserCommand',
  'DeviceLock',
  'EraseDevice',
  'RestartDevice',
  'ShutDownDevice',
  'UserList',
  'ActivationLockBypassCode',
  'ClearActivationLockBypassCode',
  'UnlockUserAccount',
]);

const PLATFORM_PREFIXES: Array<[RegExp, Platform]> = [
  [/^(iPhone|iPad|iPod)/i, 'iOS'],
  [/^(Mac|iMac|MacBook|MacPro|Macmini|VMware|VirtualMac|Xserve)/i, 'macOS'],
  [/^(AppleTV|Apple TV)/i, 'tvOS'],
  [/^Watch/i, 'watchOS'],
  [/^(RealityDevice|Apple Vision)/i, 'visionOS'],
];

/** The platform from what Authenticate or DeviceInformation said (ProductName like iPhone10,3, Model like iMac18,3). */
export function platformOf(facts: DeviceFacts | undefined): Platform | undefined {
  if (!facts) return undefined;
  if (facts.platform) return facts.platform;
  for (const v of [facts.productName, facts.model, facts.modelName]) {
    if (!v) continue;
    for (const [re, p] of PLATFORM_PREFIXES) if (re.test(v)) return p;
  }
  return undefined;
}
