/**
 * classify(): what an Exchange means in MDM terms. Decided by the body, never by path or method (servers share
 * one URL for check-in and commands, some use POST, some add query strings): `MessageType` = check-in,
 * `Status` = command-channel report. Returns undefined for traffic that is not MDM at all.
 */
import type { Exchange } from '../model/exchange.js';
import type { DecodeResult, PlistDict, PlistValue, Selection } from '../plist/value.js';
import { isDict } from '../plist/value.js';
import { decodePlist, type DecodeLimits } from '../plist/decode.js';
import { sha256Hex, tokenHex } from './hash.js';
import { commandDeclarationsToken, decodeDdmCheckin, MAX_DDM_JSON } from './ddm.js';
import type {
  CheckinMessage,
  CommandMessage,
  CommandReply,
  DeviceFacts,
  ErrorChainItem,
  Identity,
  MalformedMessage,
  MdmMessage,
} from '../model/message.js';

export interface ClassifyOptions {
  /** The exchange is known to be MDM traffic (live: a decrypted --mdm-host), so undecodable bodies are flagged. */
  assumeMdm?: boolean;
}

/**
 * The keys classification reads. Only these are decoded: a 1 MB InstalledApplicationList or a profile payload
 * in a command is passed over (structure checked, content not built), so classifying costs microseconds instead
 * of milliseconds on the proxy's event loop. The full body stays in the Exchange for whoever needs it.
 */
const FACTS: Selection = { ProductName: true, Model: true, ModelName: true, OSVersion: true, BuildVersion: true, SerialNumber: true, DeviceName: true };
const REQUEST_KEYS: Selection = {
  ...FACTS,
  MessageType: true, Status: true, CommandUUID: true, ErrorChain: true, Endpoint: true,
  UDID: true, EnrollmentID: true, UserID: true, EnrollmentUserID: true, UserShortName: true,
  Token: true, PushMagic: true, AwaitingConfiguration: true, UserConfiguration: true,
  QueryResponses: FACTS,
};
const REPLY_KEYS: Selection = { CommandUUID: true, Command: { RequestType: true } };

/**
 * What is read from a body larger than `--max-body` as it streams past (src/plist/key-scan.ts): the keys that say
 * who is talking and what the message is. No secret is among them (a TokenUpdate is never that large), so the
 * result may be stored beside the capture.
 */
export const SCAN_REQUEST: Selection = {
  MessageType: true, Endpoint: true, Status: true, CommandUUID: true, UDID: true, EnrollmentID: true, UserID: true, EnrollmentUserID: true,
  UserShortName: true, UserConfiguration: true, AwaitingConfiguration: true, QueryResponses: FACTS,
};
export const SCAN_REPLY: Selection = REPLY_KEYS;

const MDM_CONTENT_TYPE = 'application/x-apple-aspen-mdm';

/**
 * Classification runs on the forwarding thread: what it may spend on one body. The keys it reads are a few
 * dozen values in any legitimate message, so a body that makes it produce more (a shared-reference bomb under
 * ErrorChain, say) is hostile and gives up at once as malformed.
 */
export const CLASSIFY_LIMITS: DecodeLimits = { maxObjects: 100_000, timeMs: 250, maxTextBytes: 64 * 1024 };

/** The same, with room for the one long value DDM carries: a `Data` of base64 JSON (a status report, SyncTokens). */
const DDM_DATA_LIMITS: DecodeLimits = { ...CLASSIFY_LIMITS, maxTextBytes: 2 * MAX_DDM_JSON };

export function classify(ex: Exchange, opts: ClassifyOptions = {}): MdmMessage | undefined {
  const claimsMdm = opts.assumeMdm === true || (ex.requestHeaders['content-type'] ?? '').includes(MDM_CONTENT_TYPE);
  const body = ex.requestBody;
  if (body.length === 0) {
    return claimsMdm && ex.method !== 'GET' ? malformed(ex, 'request', 'empty request body') : undefined;
  }
  if (!claimsMdm && !looksLikePlist(body)) return undefined;
  // A body larger than the capture limit was cut: its identifying keys were read from the whole body in passing.
  const decoded: DecodeResult = ex.requestTruncated ? scanned(ex.requestScan, body.length) : decodePlist(body, REQUEST_KEYS, CLASSIFY_LIMITS);
  if (!decoded.ok) {
    return claimsMdm || looksLikePlist(body)
      ? malformed(ex, 'request', decoded.error.message, decoded.error.offset)
      : undefined;
  }
  const req = decoded.value;
  if (!isDict(req)) return claimsMdm ? malformed(ex, 'request', 'body is a plist but not a dictionary') : undefined;

  if (typeof req.MessageType === 'string') {
    const identity = identityOf(req);
    if (!identity) return malformed(ex, 'request', `${req.MessageType} check-in names no UDID or EnrollmentID`);
    return checkin(ex, req, identity);
  }
  if (typeof req.Status === 'string') {
    const identity = identityOf(req);
    if (!identity) return malformed(ex, 'request', 'command report names no UDID or EnrollmentID');
    return command(ex, req, identity);
  }
  return claimsMdm ? malformed(ex, 'request', 'plist has neither MessageType nor Status') : undefined;
}

/**
 * What every message says of its exchange. Messages are built as `Object.assign(base(ex), {…})`, not as
 * `{ ...base(ex), … }`: on Node 20's V8 a literal that spreads an object first and then adds keys of its own
 * takes 1–6 µs (measured; the same literal written out takes 0.03 µs), and classification runs for every exchange.
 */
function base(ex: Exchange) {
  return { exchangeId: ex.id, ts: ex.endedAt, startedAt: ex.startedAt, host: ex.host, httpStatus: ex.status };
}

function malformed(
  ex: Exchange,
  side: 'request' | 'response',
  reason: string,
  offset?: number,
  identity?: Identity,
): MalformedMessage {
  const m: MalformedMessage = Object.assign(base(ex), { endpoint: 'malformed' as const, side, reason });
  if (offset !== undefined) m.offset = offset;
  if (identity) m.identity = identity;
  return m;
}

function checkin(
  ex: Exchange,
  req: PlistDict,
  identity: Identity,
): CheckinMessage {
  const msg: CheckinMessage = Object.assign(base(ex), {
    endpoint: 'checkin' as const,
    identity,
    messageType: req.MessageType as string,
  });
  if (req.Token instanceof Uint8Array) {
    const hex = tokenHex(req.Token);
    msg.tokenHash = sha256Hex(hex);
    msg.tokenPrefix = hex.slice(0, 8);
  }
  if (typeof req.PushMagic === 'string' && !ex.redactedFacts?.pushMagicHash) msg.pushMagicHash = sha256Hex(req.PushMagic);
  // A redacted capture no longer holds the token: the hashes taken when it was live stand in for it.
  const kept = ex.redactedFacts;
  if (kept?.tokenHash && !msg.tokenHash) msg.tokenHash = kept.tokenHash;
  if (kept?.tokenPrefix && !msg.tokenPrefix) msg.tokenPrefix = kept.tokenPrefix;
  if (kept?.pushMagicHash) msg.pushMagicHash = kept.pushMagicHash;
  if (msg.messageType === 'Authenticate') {
    const facts = factsOf(req);
    if (facts) msg.device = facts;
  }
  if (typeof req.AwaitingConfiguration === 'boolean') msg.awaitingConfiguration = req.AwaitingConfiguration;
  if (req.UserConfiguration === true) msg.userConfiguration = true;
  if (msg.messageType === 'DeclarativeManagement' && typeof req.Endpoint === 'string') {
    // Only a status report carries Data: the other endpoints' bodies are not decoded a second time.
    msg.ddm = decodeDdmCheckin(req.Endpoint, req.Endpoint === 'status' ? ddmDataOf(ex) : undefined, {
      status: ex.status,
      body: ex.responseBody,
      truncated: ex.responseTruncated === true,
      failed: ex.error !== undefined,
    });
  }
  return msg;
}

/**
 * A DDM check-in's `Data` (a status report: tens of KB of base64 JSON), read by a second, narrow decode with room
 * for it: classification's own limits keep every other value short.
 */
function ddmDataOf(ex: Exchange): Uint8Array | { problem: string } | undefined {
  if (ex.requestTruncated) return { problem: 'the report was cut at the capture limit: its JSON was not decoded' };
  const res = decodePlist(ex.requestBody, { Data: true }, DDM_DATA_LIMITS);
  if (!res.ok) return { problem: `Data could not be read: ${res.error.message}` };
  const data = isDict(res.value) ? res.value.Data : undefined;
  return data instanceof Uint8Array ? data : undefined;
}

function command(
  ex: Exchange,
  req: PlistDict,
  identity: Identity,
): CommandMessage | MalformedMessage {
  const msg: CommandMessage = Object.assign(base(ex), {
    endpoint: 'command' as const,
    identity,
    status: req.Status as string,
    reply: { kind: 'end' } as CommandReply,
  });
  if (typeof req.CommandUUID === 'string') msg.commandUUID = req.CommandUUID;
  const chain = errorChainOf(req.ErrorChain);
  if (chain) msg.errorChain = chain;
  if (req.UserConfiguration === true) msg.userConfiguration = true;
  if (isDict(req.QueryResponses)) {
    const facts = factsOf(req.QueryResponses);
    if (facts) msg.device = facts;
  }
  const { reply, problem } = replyOf(ex);
  msg.reply = reply;
  if (problem) msg.malformedResponse = problem;
  return msg;
}

interface ReplyResult {
  reply: CommandReply;
  problem?: { reason: string; offset?: number };
}

function replyOf(ex: Exchange): ReplyResult {
  if (ex.error) return { reply: { kind: 'failed', error: ex.error.kind } };
  if (ex.status !== 200) return { reply: { kind: 'http-error', httpStatus: ex.status } };
  // Apple: a zero-length body ends the session (an empty plist does not).
  if (ex.responseBody.length === 0 && !ex.responseTruncated) return { reply: { kind: 'end' } };
  if (ex.responseTruncated) {
    // Too big to keep; it is a command all the same, named by the keys read from it in passing.
    const keys = ex.responseScan?.keys;
    const command = keys && isDict(keys.Command) ? keys.Command : undefined;
    return {
      reply: {
        kind: 'command',
        commandUUID: typeof keys?.CommandUUID === 'string' ? keys.CommandUUID : 'unknown',
        requestType: typeof command?.RequestType === 'string' ? command.RequestType : 'unknown',
      },
    };
  }
  const res = decodePlist(ex.responseBody, REPLY_KEYS, CLASSIFY_LIMITS);
  if (!res.ok) {
    const reason = `reply is not a plist: ${res.error.message}`;
    return { reply: { kind: 'invalid', reason }, problem: { reason, offset: res.error.offset } };
  }
  const v = res.value;
  if (isDict(v) && typeof v.CommandUUID === 'string' && isDict(v.Command) && typeof v.Command.RequestType === 'string') {
    const reply: CommandReply = { kind: 'command', commandUUID: v.CommandUUID, requestType: v.Command.RequestType };
    if (reply.requestType === 'DeclarativeManagement') {
      // Its Data (base64 JSON SyncTokens) is read only for this command: other commands' Data may be large.
      const d = decodePlist(ex.responseBody, { Command: { Data: true } }, DDM_DATA_LIMITS);
      const data = d.ok && isDict(d.value) && isDict(d.value.Command) ? d.value.Command.Data : undefined;
      const token = data instanceof Uint8Array ? commandDeclarationsToken(data) : undefined;
      if (token !== undefined) reply.declarationsToken = token;
    }
    return { reply };
  }
  const reason = 'reply is a plist but not a command (no CommandUUID / Command.RequestType)';
  return { reply: { kind: 'invalid', reason }, problem: { reason } };
}

function scanned(scan: Exchange['requestScan'], kept: number): DecodeResult {
  if (scan?.keys) return { ok: true, value: scan.keys };
  const why = scan?.problem ? `: ${scan.problem}` : '';
  return { ok: false, error: { code: 'limit', message: `request body larger than the capture limit (${kept} bytes kept) and unidentified${why}`, offset: kept } };
}

/** The UserID every Shared iPad user channel reports. */
export const SHARED_IPAD_USER_ID = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';

/**
 * UDID, or EnrollmentID on a User Enrollment; user channel when UserID / EnrollmentUserID is present. On a Shared
 * iPad the user channel is keyed by UserShortName instead of the placeholder UserID (as NanoMDM keys it).
 */
export function identityOf(d: PlistDict): Identity | undefined {
  const udid = typeof d.UDID === 'string' && d.UDID !== '' ? d.UDID : undefined;
  const enrollmentId = typeof d.EnrollmentID === 'string' && d.EnrollmentID !== '' ? d.EnrollmentID : undefined;
  const id = udid ?? enrollmentId;
  if (!id) return undefined;
  const userId =
    typeof d.UserID === 'string' && d.UserID !== ''
      ? d.UserID
      : typeof d.EnrollmentUserID === 'string' && d.EnrollmentUserID !== ''
        ? d.EnrollmentUserID
        : undefined;
  const identity: Identity = { udid: id, channel: userId ? 'user' : 'device' };
  const shortName = typeof d.UserShortName === 'string' && d.UserShortName !== '' ? d.UserShortName : undefined;
  // Shared iPad: every user reports the all-F placeholder; the short name (Managed Apple ID) tells them apart.
  if (userId) identity.userId = userId.toUpperCase() === SHARED_IPAD_USER_ID && shortName ? shortName : userId;
  if (shortName) identity.userShortName = shortName;
  if (!udid) identity.userEnrollment = true;
  return identity;
}

const FACT_KEYS: Array<[Exclude<keyof DeviceFacts, 'platform'>, string]> = [
  ['productName', 'ProductName'],
  ['model', 'Model'],
  ['modelName', 'ModelName'],
  ['osVersion', 'OSVersion'],
  ['buildVersion', 'BuildVersion'],
  ['serialNumber', 'SerialNumber'],
  ['deviceName', 'DeviceName'],
];

function factsOf(d: PlistDict): DeviceFacts | undefined {
  const facts: DeviceFacts = {};
  let any = false;
  for (const [field, key] of FACT_KEYS) {
    const v = d[key];
    if (typeof v === 'string' && v !== '') {
      facts[field] = v;
      any = true;
    }
  }
  return any ? facts : undefined;
}

function errorChainOf(v: PlistValue | undefined): ErrorChainItem[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: ErrorChainItem[] = [];
  for (const e of v) {
    if (!isDict(e)) continue;
    const item: ErrorChainItem = {};
    if (typeof e.ErrorCode === 'number') item.errorCode = e.ErrorCode;
    if (typeof e.ErrorDomain === 'string') item.errorDomain = e.ErrorDomain;
    if (typeof e.LocalizedDescription === 'string') item.localizedDescription = e.LocalizedDescription;
    if (typeof e.USEnglishDescription === 'string') item.usEnglishDescription = e.USEnglishDescription;
    out.push(item);
  }
  return out.length > 0 ? out : undefined;
}

/** `<?xml`, `<plist` or `bplist` after optional BOM / whitespace. */
export function looksLikePlist(b: Uint8Array): boolean {
  let i = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  if (b[i] === 0x62) return b[i + 1] === 0x70 && b[i + 2] === 0x6c && b[i + 3] === 0x69; // "bpli"
  return b[i] === 0x3c && (b[i + 1] === 0x3f || b[i + 1] === 0x70); // "<?" or "<p"
}
