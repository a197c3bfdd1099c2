/** `chronic-notnow`: a channel answers NotNow in 5 sessions in a row (Intune's "device is busy" pattern). */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';

export const CHRONIC_STREAK = 5;

export const chronicNotNow = defineRule({
  id: 'chronic-notnow',
  severity: 'info',
  summary: 'a channel answered NotNow in 5 sessions in a row',
  create: (): Rule => {
    const streaks = new Map<string, number>();
    return {
      onSessionEnd(ctx, s) {
        if (s.userConfiguration) return;
        if (s.notNow.length === 0) {
          streaks.delete(s.key);
          return;
        }
        const n = (streaks.get(s.key) ?? 0) + 1;
        streaks.set(s.key, n);
        if (n === CHRONIC_STREAK) {
          ctx.warn(s.who, {
            sessionId: s.id,
            message: explain.chronic(n),
            detail: { sessions: n },
          });
        }
      },
    };
  },
});
