/** `notnow-retry-storm`: the server answers NotNow for X with X again, 3 or more times in one session. */
import type { Rule } from './rule.js';
import { explain } from '../messages.js';

export const RETRY_STORM_THRESHOLD = 3;

export const notNowRetryStorm = (): Rule => {
  const counts = new Map<string, Map<string, number>>();
  return {
    onReport(ctx, s, msg) {
      if (s.userConfiguration || msg.status !== 'NotNow' || !msg.commandUUID) return;
      if (msg.reply.kind !== 'command' || msg.reply.commandUUID !== msg.commandUUID) return;
      let perSession = counts.get(s.id);
      if (!perSession) counts.set(s.id, (perSession = new Map()));
      const n = (perSession.get(msg.commandUUID) ?? 0) + 1;
      perSession.set(msg.commandUUID, n);
      if (n === RETRY_STORM_THRESHOLD) {
        const rt = ctx.requestType(s.key, msg.commandUUID) ?? msg.reply.requestType;
        ctx.warn('notnow-retry-storm', 'warning', s.who, {
          sessionId: s.id,
          commandUUIDs: [msg.commandUUID],
          message: explain.retryStorm(rt, n),
          detail: { requestType: rt, resends: n },
        });
      }
    },
    onSessionEnd(_ctx, s) {
      counts.delete(s.id);
    },
  };
};
