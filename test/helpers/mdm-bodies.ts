/** Builders for the plist bodies devices and servers exchange, made with the `plist` package (the oracle). */
import * as plist from 'plist';

export const UDID = '1C111C111C111C111C111C111C111C111C111C11';

export function report(fields: Record<string, unknown>): Buffer {
  return Buffer.from(plist.build({ UDID, ...fields } as plist.PlistValue));
}

export const idle = (extra: Record<string, unknown> = {}) => report({ Status: 'Idle', ...extra });
export const status = (s: string, uuid: string, extra: Record<string, unknown> = {}) =>
  report({ Status: s, CommandUUID: uuid, ...extra });

export function commandBody(uuid: string, requestType: string, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(plist.build({ CommandUUID: uuid, Command: { RequestType: requestType, ...extra } } as plist.PlistValue));
}

export function checkin(messageType: string, fields: Record<string, unknown> = {}): Buffer {
  return Buffer.from(plist.build({ MessageType: messageType, UDID, ...fields } as plist.PlistValue));
}
