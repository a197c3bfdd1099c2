/**
 * MdmMessage: what one Exchange means in MDM terms. Produced by `classify()` (src/mdm/classify.ts) from an
 * Exchange and consumed by the analyzer. It carries identities and facts only: never a secret value (tokens and
 * PushMagic appear as hashes, see src/mdm/redact.ts).
 */
import type { PlistValue } from '../plist/value.js';
import type { ExchangeErrorKind } from './exchange.js';

export type Channel = 'device' | 'user';

/** Who is talking. `udid` holds the UDID, or the EnrollmentID of a User Enrollment (BYOD). */
export interface Identity {
  udid: string;
  channel: Channel;
  /** UserID, or EnrollmentUserID on a User Enrollment; only on the user channel. */
  userId?: string;
  userShortName?: string;
  /** True when the id is an EnrollmentID (User Enrollment) rather than a hardware UDID. */
  userEnrollment?: boolean;
}

/** Device facts gathered from Authenticate check-ins and DeviceInformation responses. */
export interface DeviceFacts {
  /** Known platform, when the source says so directly (e.g. a re-read event stream) rather than by model. */
  platform?: Platform;
  productName?: string;
  model?: string;
  modelName?: string;
  osVersion?: string;
  buildVersion?: string;
  serialNumber?: string;
  deviceName?: string;
}

export type Platform = 'iOS' | 'macOS' | 'tvOS' | 'visionOS' | 'watchOS';

export interface ErrorChainItem {
  errorCode?: number;
  errorDomain?: string;
  localizedDescription?: string;
  usEnglishDescription?: string;
}

/** The server's answer on the command channel. */
export type CommandReply =
  /** The next command. */
  | {
      kind: 'command';
      commandUUID: string;
      requestType: string;
      /** A `DeclarativeManagement` command's `SyncTokens.DeclarationsToken` (its `Data`, base64 JSON). */
      declarationsToken?: string;
    }
  /** HTTP 200 with a zero-length body: the session ends here. */
  | { kind: 'end' }
  /** A non-200 HTTP status (the session is interrupted). */
  | { kind: 'http-error'; httpStatus: number }
  /** No response at all: upstream unreachable, connection reset, client aborted, timeout. */
  | { kind: 'failed'; error: ExchangeErrorKind }
  /** A 200 whose body is not a command the device could run (undecodable, or no Command/RequestType). */
  | { kind: 'invalid'; reason: string };

interface MessageBase {
  exchangeId: string;
  /** Epoch ms when the exchange finished: the instant the analyzer evaluates it at. */
  ts: number;
  startedAt: number;
  /** The MDM server (host[:port]); part of the session key. */
  host: string;
  httpStatus: number;
}

/** The four kinds of declaration (Apple's DDM protocol names them by plural: activations, configurations, …). */
export type DeclarationKind = 'activation' | 'configuration' | 'asset' | 'management';

/** What a status report says of one declaration. */
export interface DeclarationStatus {
  kind: DeclarationKind;
  identifier: string;
  serverToken?: string;
  active?: boolean;
  /** `valid`, `invalid` or `unknown`. */
  valid?: string;
  reasons?: Array<{ code: string; description?: string }>;
}

/** A `DeclarativeManagement` check-in (src/mdm/ddm.ts): the device's DDM sync, decoded beside forwarding. */
export interface DdmCheckin {
  /** `Endpoint` as the device sent it. */
  endpoint: string;
  kind: 'tokens' | 'declaration-items' | 'declaration' | 'status' | 'other';
  /** `declaration/<type>/<identifier>`. */
  declaration?: { type: string; identifier: string };
  /** The server's `DeclarationsToken`: from a tokens or declaration-items response. */
  declarationsToken?: string;
  /** A declaration-items response: what the server offers. */
  items?: Array<{ kind: DeclarationKind; identifier: string; serverToken: string }>;
  /** A status report. */
  status?: {
    /** `FullReport`: the device sent every status item, not just what changed. */
    full: boolean;
    /** The report carries the device's client capabilities: DDM is on. */
    clientCapabilities: boolean;
    declarations: DeclarationStatus[];
    /** Status items the device could not report (`Errors`). */
    errors: number;
  };
  /** The server answered 404 (no such declaration, or no DDM on this server). */
  notFound?: boolean;
  /** The request's `Data` or the server's answer is not the JSON it should be (forwarded untouched all the same). */
  malformed?: { side: 'request' | 'response'; reason: string };
}

/** A check-in message (Authenticate, TokenUpdate, CheckOut, …). */
export interface CheckinMessage extends MessageBase {
  endpoint: 'checkin';
  identity: Identity;
  messageType: string;
  /** SHA-256 (hex, lower-case) of the lower-case hex of TokenUpdate's Token: how pushes map to a channel. */
  tokenHash?: string;
  /** First 8 hex digits of the token, for display (what APNs paths are shown as). */
  tokenPrefix?: string;
  /** SHA-256 (hex) of TokenUpdate's PushMagic: compared against the `mdm` value of pushes. */
  pushMagicHash?: string;
  /** From Authenticate. */
  device?: DeviceFacts;
  /** TokenUpdate's AwaitingConfiguration (device channel in Setup Assistant). */
  awaitingConfiguration?: boolean;
  /** UserConfiguration on user-channel check-ins in Setup Assistant: NotNow is expected then. */
  userConfiguration?: boolean;
  /** A `DeclarativeManagement` check-in. */
  ddm?: DdmCheckin;
}

/** A command-channel report from the device and the server's reply to it. */
export interface CommandMessage extends MessageBase {
  endpoint: 'command';
  identity: Identity;
  /** Idle, Acknowledged, Error, CommandFormatError, NotNow (or whatever the device sent). */
  status: string;
  commandUUID?: string;
  errorChain?: ErrorChainItem[];
  /** Present on user-channel reports during Setup Assistant: a NotNow loop here is expected, not a fault. */
  userConfiguration?: boolean;
  /** From a DeviceInformation response's QueryResponses. */
  device?: DeviceFacts;
  reply: CommandReply;
  /** Set when the reply body claimed to be a command but could not be decoded or understood (reply 'invalid'). */
  malformedResponse?: { reason: string; offset?: number };
}

/** A body that claims to be MDM (content type, or plist-looking) but could not be decoded or understood. */
export interface MalformedMessage extends MessageBase {
  endpoint: 'malformed';
  side: 'request' | 'response';
  /** Identity when it could still be read (e.g. a good report with an undecodable reply). */
  identity?: Identity;
  reason: string;
  /** Byte offset of the decoding error, when the decoder gave one. */
  offset?: number;
}

export type MdmMessage = CheckinMessage | CommandMessage | MalformedMessage;

/** A push the server sent through APNs, as seen by mdmtap's APNs interception. */
export interface PushSeen {
  ts: number;
  /** SHA-256 (hex) of the lower-case hex token in the APNs path. */
  tokenHash: string;
  tokenPrefix: string;
  /** SHA-256 (hex) of the `mdm` value in the push body, when there was one. */
  pushMagicHash?: string;
  /** APNs HTTP status (200 accepted); 0 when APNs could not be reached. */
  apnsStatus: number;
  /** APNs' `reason` on a rejection (BadDeviceToken, Unregistered, …). */
  reason?: string;
  /**
   * The channel a push was already tied to when it was recorded (mdmtap's JSON lines keep no token): used when
   * the token itself is unknown to this replay.
   */
  mappedTo?: { udid: string; channel: Channel; userId?: string; host?: string };
  /** The request's `apns-expiration`, `apns-priority` and `apns-topic` headers, as sent (they decide delivery). */
  apnsExpiration?: string;
  apnsPriority?: string;
  apnsTopic?: string;
}
