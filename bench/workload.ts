/**
 * Bodies for the benchmarks: device statuses as small as Apple's, and the simulator's InstalledApplicationList
 * response (an iPhone-shaped app list grown to a target size).
 */
import * as plist from 'plist';
import type { Exchange } from '../src/model/exchange.js';

export { installedApplicationList } from '../src/sim/commands.js';

const UDID = '00008030-001A2B3C4D5E802E';
const UUID = '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55';

export const statusBodies = {
  idle: Buffer.from(plist.build({ Status: 'Idle', UDID })),
  notNow: Buffer.from(plist.build({ CommandUUID: UUID, Status: 'NotNow', UDID })),
  acknowledged: Buffer.from(plist.build({ CommandUUID: UUID, Status: 'Acknowledged', UDID })),
};

const xmlStatus = (udid: string, s: string, uuid?: string) =>
  Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>${uuid ? `<key>CommandUUID</key><string>${uuid}</string>` : ''}<key>Status</key><string>${s}</string><key>UDID</key><string>${udid}</string></dict></plist>\n`);
const xmlCommand = (uuid: string, rt: string) =>
  Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>Command</key><dict><key>RequestType</key><string>${rt}</string></dict><key>CommandUUID</key><string>${uuid}</string></dict></plist>\n`);
const NONE = new Uint8Array(0);

/**
 * A fleet's traffic in time order, sessions of all devices interleaved as a busy server sees them: Idle →
 * NotNow → end, except every fifth session, whose server keeps going after the NotNow (and so owes a push).
 * Exchanges are 1 ms apart from t0.
 */
export function* fleetTraffic(devices: number, sessions: number, t0: number): Generator<Exchange> {
  let id = 0;
  let t = t0;
  for (let s = 0; s < sessions; s++) {
    for (let d = 0; d < devices; d++) {
      const udid = `BENCH-${d.toString(16).padStart(8, '0').toUpperCase()}-0000000000000000`;
      const a = `A${s}-${d}`;
      const b = `B${s}-${d}`;
      const keepsGoing = (s + d) % 5 === 0;
      const steps: Array<[Buffer, Uint8Array]> = [
        [xmlStatus(udid, 'Idle'), xmlCommand(a, 'InstallProfile')],
        [xmlStatus(udid, 'NotNow', a), keepsGoing ? xmlCommand(b, 'DeviceInformation') : NONE],
      ];
      if (keepsGoing) steps.push([xmlStatus(udid, 'Acknowledged', b), NONE]);
      for (const [req, res] of steps) {
        t += 1;
        yield {
          id: `x${++id}`, connectionId: `c${d}`, startedAt: t, endedAt: t + 1, host: 'mdm.example.com', method: 'PUT', path: '/mdm',
          requestHeaders: { 'content-type': 'application/x-apple-aspen-mdm' }, requestBody: req, requestTruncated: false,
          status: 200, responseHeaders: {}, responseBody: res, responseTruncated: false,
        };
      }
    }
  }
}

/** A device's command-channel report, as the bench's devices send it (`extra`: more keys, e.g. an app list). */
export function statusBody(udid: string, status: string, uuid?: string, extra = ''): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>${uuid ? `<key>CommandUUID</key><string>${uuid}</string>` : ''}${extra}<key>Status</key><string>${status}</string><key>UDID</key><string>${udid}</string></dict></plist>\n`,
  );
}

/** What a load generator measured. */
export interface Load {
  exchanges: number;
  errors: number;
  latencies: number[];
  /** Exchanges carrying the 500 KB list only. */
  bigLatencies: number[];
}

/** The devices and sessions a load generator runs. */
export interface LoadShape {
  devices: number;
  /** Size of the InstalledApplicationList carried by every `bigEvery`-th Acknowledged. */
  bigBytes: number;
  bigEvery: number;
  /** Pause between a device's sessions (0: back to back, the saturating load). */
  pauseMs: number;
}
