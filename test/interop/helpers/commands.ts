/** MDM commands as NanoMDM's enqueue API takes them, with fresh upper-case CommandUUIDs as Apple writes them. */
import { randomUUID } from 'node:crypto';

export interface MdmCommand {
  CommandUUID: string;
  Command: Record<string, unknown> & { RequestType: string };
}

export function command(requestType: string, extra: Record<string, unknown> = {}): MdmCommand {
  return { CommandUUID: randomUUID().toUpperCase(), Command: { RequestType: requestType, ...extra } };
}
