/**
 * The reference MDM server: a real HTTPS peer with a per-channel command queue and a selectable NotNow policy.
 * One URL serves check-ins and the command channel (classified by body, as real servers allow), `/checkin` too.
 * Sessions end with HTTP 200 and a zero-length body, never an empty plist.
 */
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import * as plist from 'plist';
import { simIdentity } from './identity.js';
import { policies, type PolicyName, type QueuedCommand, type SessionState } from './policy.js';
import { PushClient, type PushTarget } from './push-client.js';
import { randomCommand } from './commands.js';
import { seeded, uuidFrom, type Rng } from './rng.js';
import { answerDdm, syncTokensData } from './ddm-server.js';
import { closeNow } from './close-now.js';

export interface ReferenceServerOptions {
  policy: PolicyName;
  port?: number;
  /** Where pushes go (the simulated APNs, possibly through mdmtap as HTTPS proxy). */
  apns?: PushTarget;
  /** push-after: delay between the end of a session that owes a push and the push. */
  pushDelayMs?: number;
  /** Commands queued for a device channel when its first TokenUpdate arrives (a fresh enrolment's setup). */
  initialCommands?: number;
  /** Demo activity: every `everyMs`, enqueue a random command for a random known device and push. */
  autoEnqueue?: { everyMs: number; seed?: number };
  seed?: number;
}

interface Channel {
  key: string;
  udid: string;
  userId?: string;
  tokenHex?: string;
  pushMagic?: string;
  queue: QueuedCommand[];
  session?: SessionState;
}

export interface ServerStats {
  sessions: number;
  pushesSent: number;
  pushResults: Array<{ status: number; reason?: string }>;
}

export interface ReferenceServer {
  url: string;
  checkinUrl: string;
  port: number;
  /** PEM the devices (or mdmtap, as upstream CA) must trust. */
  ca: string;
  policy: PolicyName;
  enqueue(udid: string, requestType: string, extra?: Record<string, unknown>, userId?: string): string;
  /**
   * Turns DDM on for a device (as an admin assigning declarations does): the DeclarativeManagement command is
   * queued at its first TokenUpdate, or now if it has enrolled; its DDM check-ins are answered from ddm-server.ts.
   */
  enableDdm(udid: string): void;
  enqueueAndPush(udid: string, requestType: string, extra?: Record<string, unknown>, userId?: string): Promise<string>;
  push(udid: string, userId?: string): Promise<{ status: number; reason?: string } | undefined>;
  pendingCommands(udid: string, userId?: string): QueuedCommand[];
  /** Where pushes go from now on (e.g. through mdmtap, once it listens). */
  setApns(target: PushTarget): void;
  knownDevices(): string[];
  stats: ServerStats;
  close(): Promise<void>;
}

const FINAL = new Set(['Acknowledged', 'Error', 'CommandFormatError']);

export async function startReferenceServer(opts: ReferenceServerOptions): Promise<ReferenceServer> {
  const id = await simIdentity('mdm');
  const rng: Rng = seeded(opts.seed ?? 1);
  const channels = new Map<string, Channel>();
  const stats: ServerStats = { sessions: 0, pushesSent: 0, pushResults: [] };
  let pusher = opts.apns ? new PushClient(opts.apns) : undefined;
  const timers = new Set<NodeJS.Timeout>();
  const policy = policies[opts.policy];
  const ddmDevices = new Set<string>();
  let closed = false;

  const keyOf = (udid: string, userId?: string) => `${udid}|${userId ?? ''}`;
  const channelOf = (udid: string, userId?: string): Channel => {
    const key = keyOf(udid, userId);
    let c = channels.get(key);
    if (!c) channels.set(key, (c = { key, udid, ...(userId ? { userId } : {}), queue: [] }));
    return c;
  };
  const later = (ms: number, fn: () => void) => {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const pushChannel = async (c: Channel) => {
    if (!pusher || !c.tokenHex || !c.pushMagic || closed) return undefined;
    stats.pushesSent++;
    const r = await pusher.push(c.tokenHex, c.pushMagic);
    stats.pushResults.push(r);
    return r;
  };

  const handle = (body: Buffer, res: http.ServerResponse) => {
    let msg: Record<string, unknown>;
    try {
      msg = plist.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      res.writeHead(400).end();
      return;
    }
    const udid = String(msg.UDID ?? msg.EnrollmentID ?? '');
    const userId = (msg.UserID ?? msg.EnrollmentUserID) as string | undefined;
    if (!udid) {
      res.writeHead(400).end();
      return;
    }
    const c = channelOf(udid, userId);
    if (msg.MessageType === 'DeclarativeManagement') {
      const a = answerDdm(String(msg.Endpoint ?? ''));
      res.writeHead(a.status, { 'content-type': 'application/json', 'content-length': a.body.length }).end(a.body);
      return;
    }
    if (typeof msg.MessageType === 'string') {
      if (msg.MessageType === 'TokenUpdate' && msg.Token instanceof Uint8Array) {
        if (!c.tokenHex && !userId && ddmDevices.has(udid)) enqueueDdm(udid);
        if (!c.tokenHex && opts.initialCommands) for (let i = 0; i < opts.initialCommands; i++) enqueue(c.udid, randomCommand(rng), {}, c.userId);
        c.tokenHex = Buffer.from(msg.Token).toString('hex');
        c.pushMagic = String(msg.PushMagic ?? '');
      }
      if (msg.MessageType === 'CheckOut') channels.delete(c.key);
      res.writeHead(200, { 'content-length': 0 }).end();
      return;
    }
    const status = String(msg.Status ?? '');
    const uuid = msg.CommandUUID as string | undefined;
    if (status === 'Idle' || !c.session) {
      c.session = { refused: new Set() };
      stats.sessions++;
    }
    const s = c.session;
    s.lastStatus = status;
    s.lastUUID = uuid;
    if (uuid && status === 'NotNow') s.refused.add(uuid);
    if (uuid && FINAL.has(status)) c.queue = c.queue.filter((q) => q.uuid !== uuid);
    const next = policy(c.queue, s);
    if (!next) {
      c.session = undefined;
      res.writeHead(200, { 'content-length': 0 }).end();
      // push-after: the session left a refused command behind and the device will not poll for it: push.
      if (opts.policy === 'push-after' && status !== 'NotNow' && [...s.refused].some((u) => c.queue.some((q) => q.uuid === u))) {
        later(opts.pushDelayMs ?? 1000, () => void pushChannel(c));
      }
      return;
    }
    const out = Buffer.from(plist.build({ CommandUUID: next.uuid, Command: { RequestType: next.requestType, ...next.extra } } as plist.PlistValue));
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': out.length }).end(out);
  };

  const server = https.createServer({ ...id.server, keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(Buffer.concat(chunks), res));
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  const closeServer = closeNow(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  function enqueue(udid: string, requestType: string, extra: Record<string, unknown> = {}, userId?: string): string {
    const uuid = uuidFrom(rng);
    channelOf(udid, userId).queue.push({ uuid, requestType, extra });
    return uuid;
  }

  function enqueueDdm(udid: string): void {
    enqueue(udid, 'DeclarativeManagement', { Data: syncTokensData() });
  }

  if (opts.autoEnqueue) {
    const arng = seeded(opts.autoEnqueue.seed ?? 7);
    const tick = () => {
      const known = [...channels.values()].filter((c) => c.tokenHex);
      if (known.length) {
        const c = known[Math.floor(arng() * known.length)];
        // One to three commands at a time, as an admin's action often queues several: what a refusal can strand.
        for (let n = 1 + Math.floor(arng() * 3); n > 0; n--) enqueue(c.udid, randomCommand(arng), {}, c.userId);
        // Real servers push on enqueue; that push is not what a stranded command needs later.
        void pushChannel(c);
      }
      later(opts.autoEnqueue!.everyMs, tick);
    };
    later(opts.autoEnqueue.everyMs, tick);
  }

  return {
    url: `https://127.0.0.1:${port}/mdm`,
    checkinUrl: `https://127.0.0.1:${port}/checkin`,
    port,
    ca: id.ca.certPem,
    policy: opts.policy,
    enqueue,
    enableDdm: (udid) => {
      ddmDevices.add(udid);
      if (channels.get(keyOf(udid))?.tokenHex) enqueueDdm(udid);
    },
    enqueueAndPush: async (udid, requestType, extra, userId) => {
      const uuid = enqueue(udid, requestType, extra, userId);
      await pushChannel(channelOf(udid, userId));
      return uuid;
    },
    push: (udid, userId) => pushChannel(channelOf(udid, userId)),
    pendingCommands: (udid, userId) => [...(channels.get(keyOf(udid, userId))?.queue ?? [])],
    setApns: (target) => {
      pusher?.close();
      pusher = new PushClient(target);
    },
    knownDevices: () => [...new Set([...channels.values()].map((c) => c.udid))],
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        pusher?.close();
        void closeServer().then(resolve);
      }),
  };
}
