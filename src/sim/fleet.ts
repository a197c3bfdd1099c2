/**
 * A fleet of simulated devices: enrols them, registers their push tokens with the simulated APNs (so a push wakes
 * the right channel), and starts each with one session, as a freshly enrolled device does.
 */
import { SimDevice, type SessionStep, type SimDdm } from './device.js';
import type { Transport } from './connect-agent.js';
import type { SimApns } from './apns.js';

export interface FleetOptions {
  count: number;
  serverUrl: string;
  checkinUrl?: string;
  transport: Transport;
  seed?: number;
  busyProbability?: number;
  /** Share of devices (macOS) that also run a user channel. */
  userChannelShare?: number;
  /** Share of iOS devices; the rest are macOS. */
  iosShare?: number;
  pollAfterNotNowMs?: number;
  apns?: SimApns;
  appListBytes?: number;
  notNowFor?: (requestType: string, attempt: number) => boolean;
  /** Which devices (by index) do DDM, and how. */
  ddm?: (index: number) => SimDdm | undefined;
  onSession?: (d: SimDevice, channel: 'device' | 'user', steps: SessionStep[]) => void;
}

export interface Fleet {
  devices: SimDevice[];
  /** Resolves when every device has enrolled and run its first session. */
  ready: Promise<void>;
  stop(): void;
}

export function startFleet(opts: FleetOptions): Fleet {
  const seed = opts.seed ?? 1;
  const devices: SimDevice[] = [];
  for (let i = 0; i < opts.count; i++) {
    const s = seed * 1000 + i;
    const ios = (s * 2654435761) % 100 < (opts.iosShare ?? 0.7) * 100;
    const withUser = !ios && ((s * 40503) % 100) < (opts.userChannelShare ?? 0.5) * 100;
    const ddm = opts.ddm?.(i);
    devices.push(
      new SimDevice({
        serverUrl: opts.serverUrl,
        ...(opts.checkinUrl ? { checkinUrl: opts.checkinUrl } : {}),
        transport: opts.transport,
        seed: s,
        platform: ios ? 'iOS' : 'macOS',
        ...(withUser ? { userId: `USER-${s}` } : {}),
        busyProbability: opts.busyProbability ?? 0.25,
        ...(opts.notNowFor ? { notNowFor: opts.notNowFor } : {}),
        ...(opts.pollAfterNotNowMs !== undefined ? { pollAfterNotNowMs: opts.pollAfterNotNowMs } : {}),
        ...(opts.appListBytes ? { appListBytes: opts.appListBytes } : {}),
        ...(opts.onSession ? { onSession: opts.onSession } : {}),
        ...(ddm ? { ddm } : {}),
      }),
    );
  }
  for (const d of devices) {
    opts.apns?.register(d.tokens.device.toString('hex'), () => d.wake('device'));
    if (d.tokens.user) opts.apns?.register(d.tokens.user.toString('hex'), () => d.wake('user'));
  }
  const ready = Promise.all(
    devices.map(async (d) => {
      await d.enroll();
      for (const ch of d.channels) await d.session(ch);
    }),
  ).then(() => undefined);
  ready.catch(() => undefined);
  return {
    devices,
    ready,
    stop: () => {
      for (const d of devices) d.stop();
    },
  };
}
