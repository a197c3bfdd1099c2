/** `notnow-not-resent`: a refused command must be offered again when the device next completes a session. */
import { defineRule, type Rule } from './rule.js';
import { commandList, explain } from '../messages.js';
import { refusedOutstanding } from '../session.js';

export const notNowNotResent = defineRule({
  id: 'notnow-not-resent',
  severity: 'warning',
  summary: "a NotNow'd command was not sent again in the device's next session (devices do not keep refused commands)",
  create: (): Rule => {
    // Per channel: refused commands still waiting to be sent again, with the session that refused them.
    const pending = new Map<string, Map<string, string>>();
    return {
      onSessionEnd(ctx, s, _outcome, endedByServer) {
        if (s.userConfiguration) return;
        const waiting = pending.get(s.key) ?? new Map<string, string>();
        if (endedByServer) {
          const missed: string[] = [];
          for (const [uuid] of waiting) {
            if (!s.sent.has(uuid) && !s.finals.has(uuid)) missed.push(uuid);
          }
          waiting.clear();
          if (missed.length > 0) {
            ctx.warn(s.who, {
              sessionId: s.id,
              commandUUIDs: missed,
              message: explain.notResent(commandList(missed, (u) => ctx.requestType(s.key, u))),
              detail: { requestTypes: missed.map((u) => ctx.requestType(s.key, u) ?? 'unknown') },
            });
          }
        } else {
          // An interrupted session proves nothing either way: keep waiting, minus what it did send or finish.
          for (const uuid of [...waiting.keys()]) if (s.sent.has(uuid) || s.finals.has(uuid)) waiting.delete(uuid);
        }
        for (const uuid of refusedOutstanding(s)) waiting.set(uuid, s.id);
        if (waiting.size > 0) pending.set(s.key, waiting);
        else pending.delete(s.key);
      },
    };
  },
});
