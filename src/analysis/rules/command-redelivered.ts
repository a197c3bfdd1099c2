/**
 * `command-redelivered`: the server sends a CommandUUID again after the device gave it a final status
 * (Acknowledged, Error, CommandFormatError) and the server took that report. The server lost the result
 * (micromdm#1040; NanoMDM's filekv queue under some orders): the command runs twice, and whatever it displaced
 * in the queue may never be sent.
 */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';
import { FINAL_STATUSES } from '../session.js';
import { RecentMap } from '../../util/recent-map.js';

/** Final statuses remembered per channel: a lost result is re-sent within a session or two; memory stays per channel small. */
const REMEMBERED = 64;

export const commandRedelivered = defineRule({
  id: 'command-redelivered',
  severity: 'warning',
  summary: 'the server sent a command again after the device had given it a final status: the server lost the result',
  create: (): Rule => {
    // Per channel: CommandUUID → [status, when].
    const finals = new Map<string, Map<string, { status: string; ts: number }>>();
    return {
      onReport(ctx, s, msg) {
        let seen = finals.get(s.key);
        const uuid = msg.commandUUID;
        const taken = msg.reply.kind === 'command' || msg.reply.kind === 'end';
        if (uuid && taken && FINAL_STATUSES.has(msg.status)) {
          if (!seen) finals.set(s.key, (seen = new RecentMap(REMEMBERED)));
          seen.set(uuid, { status: msg.status, ts: msg.ts });
        }
        if (msg.reply.kind !== 'command' || !seen) return;
        const again = seen.get(msg.reply.commandUUID);
        if (!again) return;
        // Warned once per delivery: if the device completes it again, a further resend is a further loss.
        seen.delete(msg.reply.commandUUID);
        const rt = msg.reply.requestType;
        ctx.warn(s.who, {
          sessionId: s.id,
          commandUUIDs: [msg.reply.commandUUID],
          message: explain.redelivered(rt, again.status),
          detail: { requestType: rt, finalStatus: again.status, finalAt: new Date(again.ts).toISOString() },
        });
      },
      onCheckin(_ctx, msg, _who, key) {
        if (msg.messageType === 'CheckOut') finals.delete(key);
      },
    };
  },
});
