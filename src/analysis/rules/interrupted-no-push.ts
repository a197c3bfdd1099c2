/**
 * `interrupted-no-push`: a session that ended without the empty reply (an HTTP error, a failed exchange,
 * silence past `--session-timeout`) and without NotNow as its last status owes a push (Apple's example 3).
 * Raised when that obligation reaches its deadline undischarged; resolved when a push or the device comes.
 */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';
import { iso } from '../../util/iso.js';

export const interruptedNoPush = defineRule({
  id: 'interrupted-no-push',
  severity: 'warning',
  summary: "an interrupted session's push did not come within the grace",
  judgesObligations: true,
  create: (): Rule => ({
    onObligationExpired(ctx, o) {
      if (o.outcome !== 'interrupted') return undefined;
      return ctx.warn(o.who, {
        sessionId: o.sessionId,
        message: explain.interruptedNoPush(o.what, ctx.setting('pushGraceMs')),
        detail: { deadline: iso(o.deadline), sessionEnded: iso(o.openedAt), outcome: o.outcome },
      });
    },
  }),
});
