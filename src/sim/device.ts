/**
 * A simulated Apple device: enrols (Authenticate, TokenUpdate per channel), runs command sessions from Idle to the
 * server's empty reply, answers NotNow when busy, and follows Apple's rule for what happens next: after a session
 * whose last status was NotNow it polls again by itself; otherwise it waits for a push.
 */
import https from 'node:https';
import { createHash } from 'node:crypto';
import * as plist from 'plist';
import { deviceAgent, type Transport } from './connect-agent.js';
import { resultFor } from './commands.js';
import { seeded, uuidFrom, type Rng } from './rng.js';

/** Apple: iOS never answers NotNow to these. */
const IOS_NEVER_NOTNOW = new Set(['DeviceInformation', 'ProfileList', 'DeviceLock', 'EraseDevice', 'ClearPasscode', 'ProvisioningProfileList', 'InstalledApplicationList', 'Restrictions']);

export interface SessionStep {
  status: string;
  commandUUID?: string;
  /** RequestType the server replied with, 'end' for the empty reply, or `http <status>`. */
  reply: string;
}

export interface SimDeviceOptions {
  serverUrl: string;
  checkinUrl?: string;
  transport: Transport;
  seed: number;
  platform?: 'iOS' | 'macOS';
  /** A user channel too (macOS), with this UserID. */
  userId?: string;
  /** Probability of answering NotNow to a command it may refuse. */
  busyProbability?: number;
  /** Exact control for tests: answer NotNow to this command on this attempt? */
  notNowFor?: (requestType: string, attempt: number) => boolean;
  /** After a session that ended on NotNow, poll again after this long. */
  pollAfterNotNowMs?: number;
  appListBytes?: number;
  /** The device does DDM: it syncs when told by the DeclarativeManagement command, then sends a status report. */
  ddm?: SimDdm;
  onSession?: (d: SimDevice, channel: 'device' | 'user', steps: SessionStep[]) => void;
}

export interface SimDdm {
  /** Declarations (identifiers) the device reports invalid, as one it cannot apply. */
  invalid?: readonly string[];
  /**
   * The device is in Setup Assistant (TokenUpdate with AwaitingConfiguration) and answers NotNow to the
   * DeclarativeManagement command, as the devices of fleetdm/fleet#18160 did.
   */
  awaitingConfiguration?: boolean;
  /** The device acknowledges the DeclarativeManagement command and never syncs (ddm-sync-stalled). */
  stall?: boolean;
}

export class SimDevice {
  readonly udid: string;
  readonly serial: string;
  readonly platform: 'iOS' | 'macOS';
  readonly model: string;
  readonly tokens: { device: Buffer; user?: Buffer };
  readonly pushMagic: { device: string; user?: string };
  readonly sessions: Array<{ channel: 'device' | 'user'; steps: SessionStep[] }> = [];
  private readonly agent: https.Agent;
  private readonly rng: Rng;
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = new Set<'device' | 'user'>();
  private again = new Set<'device' | 'user'>();
  private stopped = false;
  /** DDM: the DeclarationsToken synced to, and each declaration's server token. */
  private ddmToken: string | undefined;
  private readonly declarations = new Map<string, { kind: string; serverToken: string }>();

  constructor(private readonly opts: SimDeviceOptions) {
    this.rng = seeded(opts.seed);
    const hex = createHash('sha256').update(`udid-${opts.seed}`).digest('hex').toUpperCase();
    this.udid = `${hex.slice(0, 8)}-${hex.slice(8, 24)}`;
    this.serial = `C02${hex.slice(24, 33)}`;
    this.platform = opts.platform ?? 'iOS';
    this.model = this.platform === 'iOS' ? `iPhone${12 + (opts.seed % 5)},${1 + (opts.seed % 3)}` : `MacBookPro${16 + (opts.seed % 3)},1`;
    this.tokens = { device: deviceToken(opts.seed, 'device'), ...(opts.userId ? { user: deviceToken(opts.seed, 'user') } : {}) };
    this.pushMagic = { device: uuidFrom(this.rng), ...(opts.userId ? { user: uuidFrom(this.rng) } : {}) };
    this.agent = deviceAgent(opts.transport);
  }

  get channels(): Array<'device' | 'user'> {
    return this.opts.userId ? ['device', 'user'] : ['device'];
  }

  async enroll(): Promise<void> {
    await this.checkin({ MessageType: 'Authenticate', Topic: 'com.apple.mgmt.External.mdmtap-sim', ProductName: this.model, Model: this.model, OSVersion: this.platform === 'iOS' ? '18.1' : '15.1', SerialNumber: this.serial, DeviceName: `Sim ${this.serial.slice(-4)}` });
    for (const ch of this.channels) {
      const tok = ch === 'device' ? this.tokens.device : this.tokens.user!;
      const setup = ch === 'device' && this.opts.ddm?.awaitingConfiguration ? { AwaitingConfiguration: true } : {};
      await this.checkin({ MessageType: 'TokenUpdate', Topic: 'com.apple.mgmt.External.mdmtap-sim', Token: tok, PushMagic: ch === 'device' ? this.pushMagic.device : this.pushMagic.user!, ...setup, ...(ch === 'user' ? this.userIds() : {}) }, ch);
    }
  }

  /** A push arrived for this channel: start a session (or another one right after the running one). */
  wake(channel: 'device' | 'user' = 'device'): void {
    if (this.stopped) return;
    if (this.running.has(channel)) {
      this.again.add(channel);
      return;
    }
    void this.session(channel).catch(() => undefined);
  }

  /** One session from Idle to the empty reply (or an error). */
  async session(channel: 'device' | 'user' = 'device'): Promise<SessionStep[]> {
    this.running.add(channel);
    const steps: SessionStep[] = [];
    try {
      let report: Record<string, unknown> = { Status: 'Idle' };
      for (let i = 0; i < 200 && !this.stopped; i++) {
        const res = await this.put(this.opts.serverUrl, { ...report, ...(channel === 'user' ? this.userIds() : {}) }, 'application/x-apple-aspen-mdm');
        const step: SessionStep = { status: String(report.Status), ...(report.CommandUUID ? { commandUUID: String(report.CommandUUID) } : {}), reply: 'end' };
        steps.push(step);
        if (res.status !== 200) {
          step.reply = `http ${res.status}`;
          break;
        }
        if (res.body.length === 0) break;
        const cmd = plist.parse(res.body.toString('utf8')) as { CommandUUID: string; Command: { RequestType: string } };
        step.reply = cmd.Command.RequestType;
        report = this.answer(cmd.CommandUUID, cmd.Command.RequestType);
      }
    } finally {
      this.running.delete(channel);
    }
    this.sessions.push({ channel, steps });
    this.opts.onSession?.(this, channel, steps);
    const last = steps.at(-1);
    if (!this.stopped && last && last.reply === 'end' && last.status === 'NotNow' && this.opts.pollAfterNotNowMs !== undefined) {
      // Apple: NotNow as the last status means the device comes back by itself.
      this.later(this.opts.pollAfterNotNowMs, () => this.wake(channel));
    }
    if (this.again.delete(channel)) this.wake(channel);
    return steps;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.agent.destroy();
  }

  private answer(uuid: string, requestType: string): Record<string, unknown> {
    const attempt = (this.attempts.get(uuid) ?? 0) + 1;
    this.attempts.set(uuid, attempt);
    const mayRefuse = !(this.platform === 'iOS' && IOS_NEVER_NOTNOW.has(requestType));
    if (requestType === 'DeclarativeManagement') {
      if (this.opts.ddm?.awaitingConfiguration) return { Status: 'NotNow', CommandUUID: uuid };
      // Acknowledged, then the sync it asks for, once this session is over.
      if (this.opts.ddm && !this.opts.ddm.stall) this.later(50, () => void this.ddmSync().catch(() => undefined));
      return { Status: this.opts.ddm ? 'Acknowledged' : 'Error', CommandUUID: uuid };
    }
    const busy = this.opts.notNowFor ? this.opts.notNowFor(requestType, attempt) : mayRefuse && this.rng() < (this.opts.busyProbability ?? 0);
    if (busy) return { Status: 'NotNow', CommandUUID: uuid };
    const d = { udid: this.udid, serial: this.serial, model: this.model, osVersion: this.platform === 'iOS' ? '18.1' : '15.1', name: `Sim ${this.serial.slice(-4)}` };
    return { Status: 'Acknowledged', CommandUUID: uuid, ...resultFor(requestType, d, { appListBytes: this.opts.appListBytes }) };
  }

  /**
   * A DDM sync as Apple describes it: the tokens; if they changed, the declaration items and each declaration that
   * is new or changed; then a full status report of every declaration.
   */
  async ddmSync(): Promise<void> {
    const ddm = (endpoint: string, data?: unknown) =>
      this.put(this.opts.checkinUrl ?? this.opts.serverUrl, { MessageType: 'DeclarativeManagement', Endpoint: endpoint, ...(data ? { Data: Buffer.from(JSON.stringify(data)) } : {}) }, 'application/x-apple-aspen-mdm-checkin');
    const tokens = JSON.parse((await ddm('tokens')).body.toString('utf8')) as { SyncTokens: { DeclarationsToken: string } };
    if (tokens.SyncTokens.DeclarationsToken !== this.ddmToken) {
      const items = JSON.parse((await ddm('declaration-items')).body.toString('utf8')) as { Declarations: Record<string, Array<{ Identifier: string; ServerToken: string }>>; DeclarationsToken: string };
      for (const [plural, list] of Object.entries(items.Declarations)) {
        const kind = plural === 'Management' ? 'management' : plural.slice(0, -1).toLowerCase();
        for (const it of list) {
          if (this.declarations.get(it.Identifier)?.serverToken === it.ServerToken) continue;
          if ((await ddm(`declaration/${kind}/${it.Identifier}`)).status === 200) this.declarations.set(it.Identifier, { kind, serverToken: it.ServerToken });
        }
      }
      this.ddmToken = items.DeclarationsToken;
    }
    const lists: Record<string, unknown[]> = { activations: [], configurations: [], assets: [], management: [] };
    for (const [identifier, d] of this.declarations) {
      const invalid = this.opts.ddm?.invalid?.includes(identifier) === true;
      lists[d.kind === 'management' ? 'management' : `${d.kind}s`].push({
        identifier, 'server-token': d.serverToken, active: !invalid, valid: invalid ? 'invalid' : 'valid',
        ...(invalid ? { reasons: [{ code: 'Error.ConfigurationCannotBeApplied', description: 'Configuration cannot be applied', details: { Error: 'The passcode does not meet the policy' } }] } : {}),
      });
    }
    await ddm('status', {
      StatusItems: { management: { declarations: lists, 'client-capabilities': { 'supported-versions': ['1.0.0'] } } },
      Errors: [],
      FullReport: true,
    });
  }

  private userIds(): Record<string, string> {
    return { UserID: this.opts.userId!, UserShortName: 'sim', UserLongName: 'Simulated User' };
  }

  private async checkin(body: Record<string, unknown>, channel: 'device' | 'user' = 'device'): Promise<void> {
    void channel;
    const res = await this.put(this.opts.checkinUrl ?? this.opts.serverUrl, body, 'application/x-apple-aspen-mdm-checkin');
    if (res.status !== 200) throw new Error(`${String(body.MessageType)} check-in answered ${res.status}`);
  }

  private put(url: string, body: Record<string, unknown>, contentType: string): Promise<{ status: number; body: Buffer }> {
    // Apple writes dictionary keys sorted, so in a large report UDID and Status come after the big arrays.
    const data = Buffer.from(plist.build(sortedKeys({ UDID: this.udid, ...body }) as plist.PlistValue));
    // A stand-in for the CMS signature real devices send when the profile has SignMessage: it must arrive intact.
    const signature = createHash('sha256').update(data).digest('base64');
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method: 'PUT', agent: this.agent, headers: { 'content-type': contentType, 'content-length': data.length, 'mdm-signature': signature } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

/** 32 bytes, like an APNs device token; deterministic per seed so runs repeat. */
function deviceToken(seed: number, channel: string): Buffer {
  return createHash('sha256').update(`token-${seed}-${channel}`).digest();
}


/** A copy with every dictionary's keys in sorted order, as Apple's plist writer emits them. */
function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date)) {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortedKeys(o[k])]));
  }
  return v;
}
