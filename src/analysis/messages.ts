/**
 * The one-line explanations shown to people: what the server did, and what it should do instead. Kept together
 * so the wording stays consistent across the report, the dashboard and the JSON events.
 */
import { formatDuration } from '../util/duration.js';

export function commandList(uuids: string[], requestType: (u: string) => string | undefined): string {
  const names = uuids.map((u) => requestType(u) ?? `command ${u.slice(0, 8)}`);
  return names.length ? names.join(', ') : 'the refused command';
}

export const explain = {
  ddmInvalid: (kind: string, identifier: string, reasons: string) =>
    `The device reports ${kind} declaration ${identifier} invalid${reasons ? ` (${reasons})` : ''}: it is not applied. ` +
    `Fix the declaration on the server; the device tells when it is valid again in its next status report.`,
  ddmSyncStalled: (how: string, token: string, graceMs: number) =>
    `The server offered DeclarationsToken ${token} (${how}) and the device has not fetched the declaration items within ` +
    `${formatDuration(graceMs)}: its declarations are not being updated. Check that the tokens and declaration-items endpoints answer, and push.`,
  ddmNotNowSetup: (command: string) =>
    `The device is in Setup Assistant (AwaitingConfiguration), answered NotNow to ${command}, and the session ended with it ` +
    `unacknowledged and the device not released: its DDM sync did not happen. Offer the command again, or release the device ` +
    `(DeviceConfigured) without waiting for its result; a server that waited for it left devices never released (fleetdm/fleet#18160).`,
  notNowNoPush: (commands: string, graceMs: number) =>
    `The server kept sending commands after NotNow for ${commands} and sent no push within ${formatDuration(graceMs)}: ` +
    `the device will not come back for it on its own. After a session that does not end on NotNow, push.`,
  interruptedNoPush: (reason: string, graceMs: number) =>
    `The session was interrupted (${reason}) without NotNow as the last status, and no push came within ${formatDuration(graceMs)}: ` +
    `the device will not poll on its own. Push after an interrupted session.`,
  notResent: (commands: string) =>
    `${commands} got NotNow and the server ended a later session without sending it again: the device does not keep refused commands. ` +
    `Resend a NotNow'd command when the device next polls.`,
  retryStorm: (command: string, n: number, alternatedWith: string[]) =>
    (alternatedWith.length
      ? `The server offered ${command} ${n} times in one session, alternating it with ${alternatedWith.join(', ')}, and the device refused it each time (NotNow): `
      : `The server re-sent ${command} right after its NotNow ${n} times in one session: `) +
    `the device is busy. Stop with an empty reply after NotNow and let the device poll when ready.`,
  redelivered: (command: string, status: string) =>
    `The server sent ${command} again after the device had answered it ${status}: the server lost the result, so the ` +
    `command runs twice and what it displaced in the queue may never be sent. Record a command's final status before sending the next.`,
  deviceRejected: (what: string, status: number) =>
    `The server refused a ${what} with HTTP ${status}: nothing ran on the server (an unknown or expired device identity, ` +
    `or a request it cannot read). Not a NotNow fault and no push can help: check the device's identity certificate and enrolment.`,
  pushNoCheckin: (windowMs: number, pushes: number) =>
    `${pushes === 1 ? 'A push' : `${pushes} pushes`} reached APNs for this channel but the device opened no session within ${formatDuration(windowMs)}: ` +
    `check the push topic and certificate, that the PushMagic is the latest TokenUpdate's, and whether the device is online.`,
  notNowNoReturn: (windowMs: number) =>
    `The session ended on NotNow and the device did not come back within ${formatDuration(windowMs)}: ` +
    `Apple says it polls again by itself when it is ready; if it stays away, push after a NotNow as well.`,
  unexpected: (command: string) =>
    `An iOS device answered NotNow to ${command}, which Apple documents as never NotNow on iOS: check the device and anything between it and the server.`,
  chronic: (n: number) =>
    `This channel answered NotNow in ${n} sessions in a row: the device stays busy (locked, updating, low storage). Look at the device, not the server.`,
  malformed: (side: string, reason: string) =>
    `A ${side} body that claims to be MDM could not be decoded (${reason}); it was forwarded unchanged.`,
  pushRejected: (status: number, reason: string | undefined) =>
    `APNs rejected the push (${status}${reason ? ` ${reason}` : ''}): the device was not woken. ` +
    `A stale token needs the device's next TokenUpdate; a bad certificate or topic needs fixing on the server.`,
  pushUnknownToken: (prefix: string) =>
    `The server pushed to token ${prefix}…, which is no device's current token as far as mdmtap saw: a stale token (a later TokenUpdate replaced it), or a device enrolled before the capture began.`,
  pushMagicMismatch: () =>
    `The push's mdm value is not the PushMagic from the device's last TokenUpdate: the device will ignore it. Use the PushMagic of the latest TokenUpdate.`,
};
