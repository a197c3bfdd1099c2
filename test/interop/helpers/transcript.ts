/**
 * A session as one readable line, commands named A, B, C… in the order the server first sent them:
 * `Idle→A, NotNow(A)→B, Acknowledged(B)→end`. Tests compare it whole, so a server that behaves differently
 * shows exactly where.
 */
import type { Step } from './device.js';

export function transcript(steps: Step[]): { line: string; names: Map<string, string>; uuidOf(name: string): string } {
  const names = new Map<string, string>();
  const name = (uuid: string) => {
    if (!names.has(uuid)) names.set(uuid, String.fromCharCode(65 + names.size));
    return names.get(uuid)!;
  };
  const line = steps
    .map((s) => {
      const sent = s.commandUUID ? `${s.sent}(${name(s.commandUUID)})` : s.sent;
      const m = /^(\S+) ([0-9A-Fa-f-]{36})$/.exec(s.reply);
      return `${sent}→${m ? name(m[2]) : s.reply}`;
    })
    .join(', ');
  return {
    line,
    names,
    uuidOf(n) {
      for (const [uuid, v] of names) if (v === n) return uuid;
      throw new Error(`no command ${n} in ${line}`);
    },
  };
}
