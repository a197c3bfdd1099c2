/**
 * `notnow-no-push`: the mission's rule. A session that kept going after a NotNow and ended on another status,
 * with a refused command still without a final status (`stranded`), owes a push: the device will not poll by
 * itself. Raised when that push obligation reaches its deadline (session end + `--push-grace`) undischarged;
 * resolved when a push or the device finally comes.
 */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';
import { iso } from '../../util/iso.js';

export const notNowNoPush = defineRule({
  id: 'notnow-no-push',
  severity: 'warning',
  summary: "a stranded session's push did not come within the grace",
  judgesObligations: true,
  create: (): Rule => ({
    onObligationExpired(ctx, o) {
      if (o.outcome !== 'stranded') return undefined;
      return ctx.warn(o.who, {
        sessionId: o.sessionId,
        ...(o.commandUUIDs.length ? { commandUUIDs: o.commandUUIDs } : {}),
        message: explain.notNowNoPush(o.what, ctx.setting('pushGraceMs')),
        detail: { deadline: iso(o.deadline), sessionEnded: iso(o.openedAt), outcome: o.outcome },
      });
    },
  }),
});
