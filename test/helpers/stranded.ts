/**
 * A device that enrols through a running mdmtap (forward mode) and runs one session the keep-going server strands:
 * InstallProfile refused with NotNow, then SecurityInfo sent anyway, so a push is owed afterwards.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReferenceServer } from '../../src/sim/server.js';
import { SimDevice } from '../../src/sim/device.js';

export async function strandOneSession(server: ReferenceServer, proxyPort: number, certsDir: string, seed: number): Promise<SimDevice> {
  const device = new SimDevice({
    serverUrl: server.url,
    transport: { ca: [readFileSync(join(certsDir, 'ca.pem'), 'utf8')], proxy: { host: '127.0.0.1', port: proxyPort } },
    seed,
    platform: 'macOS',
    notNowFor: (rt) => rt === 'InstallProfile',
  });
  await device.enroll();
  server.enqueue(device.udid, 'InstallProfile');
  server.enqueue(device.udid, 'SecurityInfo');
  await device.session();
  device.stop();
  return device;
}
