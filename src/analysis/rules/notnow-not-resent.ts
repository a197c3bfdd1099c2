/**
 * `notnow-not-resent`: a refused command must be offered again when the device next completes a session.
 *
 * Only a session the server ended on a status other than NotNow is evidence: there the server said it had nothing
 * more while the device was taking commands. A session that ends on NotNow (the device busy again, the server
 * rightly stopping, perhaps before the refused command's turn) or is interrupted proves nothing either way, and an
 * enrollment that starts over (Authenticate) or ends (CheckOut) takes its queue with it: NanoMDM clears it then.
 */
import { defineRule, type Rule } from './rule.js';
import { commandList, explain } from '../messages.js';
import { refusedOutstanding } from '../session.js';
import type { WhoFields } from '../../model/events.js';

export const notNowNotResent = defineRule({
  id: 'notnow-not-resent',
  severity: 'warning',
  summary: "a NotNow'd command was not sent again before the server ended a later session on another status (devices do not keep refused commands)",
  create: (): Rule => {
    // Per channel: refused commands still waiting to be sent again, with the session that refused them.
    const pending = new Map<string, { who: WhoFields; waiting: Map<string, string> }>();
    return {
      onSessionEnd(ctx, s, outcome, endedByServer) {
        if (s.userConfiguration) return;
        const waiting = pending.get(s.key)?.waiting ?? new Map<string, string>();
        // A partial session's unseen beginning may have sent the command: it proves nothing either.
        if (endedByServer && outcome !== 'ended-on-notnow' && !s.partial) {
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
          // Keep waiting, minus what this session did send or finish.
          for (const uuid of [...waiting.keys()]) if (s.sent.has(uuid) || s.finals.has(uuid)) waiting.delete(uuid);
        }
        for (const uuid of refusedOutstanding(s)) waiting.set(uuid, s.id);
        if (waiting.size > 0) pending.set(s.key, { who: s.who, waiting });
        else pending.delete(s.key);
      },
      onCheckin(_ctx, msg, who) {
        if (msg.messageType !== 'Authenticate' && msg.messageType !== 'CheckOut') return;
        for (const [key, p] of pending) if (p.who.udid === who.udid && p.who.host === who.host) pending.delete(key);
      },
    };
  },
});
