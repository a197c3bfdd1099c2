/**
 * What mdmtap knows about MDM commands: the generated catalogue of Apple's schemas (request types, titles,
 * platforms, channels) plus Apple's NotNow facts, which the schemas do not carry (the tests hold those to the
 * catalogue's request types).
 */
import type { DeviceFacts, Platform } from '../model/message.js';
import { COMMANDS, type CommandInfo, type PlatformSupport } from './catalogue.generated.js';

export type { CommandInfo };

const byRequestType = new Map(COMMANDS.map((c) => [c.requestType, c]));

export function commandInfo(requestType: string): CommandInfo | undefined {
  return byRequestType.get(requestType);
}

/** Where Apple supports a command, in one line: "iOS 4.0+, macOS 10.7+ (device channel), watchOS 10.0+". */
export function supportSummary(info: CommandInfo): string {
  const parts = Object.entries(info.platforms).map(([p, s]) => {
    const notes: string[] = [];
    const ch = channelsText(s);
    if (ch) notes.push(ch);
    if (s.sharedIpad === 'only') notes.push('Shared iPad only');
    else if (s.sharedIpad === 'forbidden') notes.push('not on Shared iPad');
    if (s.supervised) notes.push('supervised');
    return `${p} ${s.introduced}+${notes.length ? ` (${notes.join(', ')})` : ''}`;
  });
  return parts.length ? parts.join(', ') : 'no platform';
}

function channelsText(s: PlatformSupport): string | undefined {
  if (s.deviceChannel && s.userChannel) return 'device and user channels';
  if (s.deviceChannel) return 'device channel';
  if (s.userChannel) return 'user channel';
  return undefined;
}

/**
 * Why Apple's schema says `requestType` cannot run on this platform and channel, or undefined when it can or
 * mdmtap cannot tell (an unknown platform or command). Only what the schema states outright counts: a platform it
 * leaves out, or a channel it marks false (on iOS, a user channel exists only on a Shared iPad).
 */
export function unsupportedOn(requestType: string, platform: Platform | undefined, channel: 'device' | 'user'): string | undefined {
  const info = byRequestType.get(requestType);
  if (!info || !platform) return undefined;
  const s = info.platforms[platform];
  if (!s) return `Apple's schema lists ${requestType} for ${Object.keys(info.platforms).join(', ') || 'no platform'}, not ${platform}`;
  const channels = platform === 'iOS' ? (typeof s.sharedIpad === 'object' ? s.sharedIpad : undefined) : s;
  if (channel === 'user' && (channels?.userChannel === false || (platform === 'iOS' && s.sharedIpad === 'forbidden'))) {
    return `Apple's schema does not support ${requestType} on the user channel of ${platform}`;
  }
  if (channel === 'device' && platform !== 'iOS' && channels?.deviceChannel === false) {
    return `Apple's schema does not support ${requestType} on the device channel of ${platform}`;
  }
  return undefined;
}

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
