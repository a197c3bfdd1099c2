/**
 * Builders for MdmMessage values, the analyzer's input. The analyzer's input is plain data, so tests build it
 * directly: one `Device` per enrollment channel, with a clock the test moves.
 */
import type { CheckinMessage, CommandMessage, CommandReply, Identity, MalformedMessage, MdmMessage, PushSeen } from '../../src/model/message.js';
import { sha256Hex } from '../../src/mdm/hash.js';

export const HOST = 'mdm.example.com';
let exchangeSeq = 0;

export class Device {
  constructor(
    readonly identity: Identity,
    public t = 1_700_000_000_000,
    readonly host = HOST,
  ) {}

  static device(udid = 'UDID-1'): Device {
    return new Device({ udid, channel: 'device' });
  }

  user(userId = 'USER-1'): Device {
    return new Device({ ...this.identity, channel: 'user', userId }, this.t, this.host);
  }

  at(t: number): this {
    this.t = t;
    return this;
  }

  wait(ms: number): this {
    this.t += ms;
    return this;
  }

  /** A command-channel report and the server's reply. `reply` is a [uuid, requestType], 'end', a status or failure. */
  report(status: string, commandUUID: string | undefined, reply: [string, string] | 'end' | CommandReply, extra: Partial<CommandMessage> = {}): CommandMessage {
    this.t += 100;
    const r: CommandReply = Array.isArray(reply)
      ? { kind: 'command', commandUUID: reply[0], requestType: reply[1] }
      : reply === 'end'
        ? { kind: 'end' }
        : reply;
    const msg: CommandMessage = {
      exchangeId: `x${++exchangeSeq}`,
      ts: this.t,
      startedAt: this.t - 5,
      host: this.host,
      httpStatus: r.kind === 'http-error' ? r.httpStatus : r.kind === 'failed' ? 0 : 200,
      endpoint: 'command',
      identity: this.identity,
      status,
      reply: r,
      ...extra,
    };
    if (commandUUID) msg.commandUUID = commandUUID;
    return msg;
  }

  idle(reply: [string, string] | 'end' | CommandReply, extra: Partial<CommandMessage> = {}): CommandMessage {
    return this.report('Idle', undefined, reply, extra);
  }

  checkin(messageType: string, extra: Partial<CheckinMessage> = {}): CheckinMessage {
    this.t += 100;
    return {
      exchangeId: `x${++exchangeSeq}`,
      ts: this.t,
      startedAt: this.t - 5,
      host: this.host,
      httpStatus: 200,
      endpoint: 'checkin',
      identity: this.identity,
      messageType,
      ...extra,
    };
  }

  tokenUpdate(token = `token-of-${this.identity.udid}-${this.identity.channel}`, pushMagic = `magic-${token}`): CheckinMessage {
    const hex = Buffer.from(token).toString('hex');
    return this.checkin('TokenUpdate', { tokenHash: sha256Hex(hex), tokenPrefix: hex.slice(0, 8), pushMagicHash: sha256Hex(pushMagic) });
  }

  malformed(side: 'request' | 'response' = 'request'): MalformedMessage {
    this.t += 100;
    return { exchangeId: `x${++exchangeSeq}`, ts: this.t, startedAt: this.t - 5, host: this.host, httpStatus: 200, endpoint: 'malformed', side, reason: 'expected </string> at byte 120', offset: 120, identity: this.identity };
  }
}

export function push(ts: number, token: string, opts: { apnsStatus?: number; reason?: string; pushMagic?: string } = {}): PushSeen {
  const hex = Buffer.from(token).toString('hex');
  const p: PushSeen = { ts, tokenHash: sha256Hex(hex), tokenPrefix: hex.slice(0, 8), apnsStatus: opts.apnsStatus ?? 200 };
  if (opts.reason) p.reason = opts.reason;
  p.pushMagicHash = sha256Hex(opts.pushMagic ?? `magic-${token}`);
  return p;
}

export type { MdmMessage };
