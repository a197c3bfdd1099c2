/**
 * Bodies for the benchmarks: device statuses as small as Apple's, and the simulator's InstalledApplicationList
 * response (an iPhone-shaped app list grown to a target size).
 */
import * as plist from 'plist';

export { installedApplicationList } from '../src/sim/commands.js';

const UDID = '00008030-001A2B3C4D5E802E';
const UUID = '0F5E6B44-7C1D-4E35-9A7B-3C0E2D1F4A55';

export const statusBodies = {
  idle: Buffer.from(plist.build({ Status: 'Idle', UDID })),
  notNow: Buffer.from(plist.build({ CommandUUID: UUID, Status: 'NotNow', UDID })),
  acknowledged: Buffer.from(plist.build({ CommandUUID: UUID, Status: 'Acknowledged', UDID })),
};
