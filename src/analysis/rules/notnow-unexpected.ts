/** `notnow-unexpected`: an iOS device refuses a command Apple says iOS never refuses. */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';
import { IOS_NEVER_NOTNOW } from '../../mdm/catalogue.js';

export const notNowUnexpected = defineRule({
  id: 'notnow-unexpected',
  severity: 'info',
  summary: 'an iOS device answered NotNow to a command Apple says iOS never refuses',
  create: (): Rule => {
    // Once per command per session: a re-offered command refused again is the same finding.
    const seen = new Map<string, Set<string>>();
    return {
      onReport(ctx, s, msg) {
        if (s.userConfiguration || msg.status !== 'NotNow' || !msg.commandUUID) return;
        if (ctx.platform(s.who) !== 'iOS') return;
        const rt = ctx.requestType(s.key, msg.commandUUID);
        if (!rt || !IOS_NEVER_NOTNOW.has(rt)) return;
        let inSession = seen.get(s.id);
        if (!inSession) seen.set(s.id, (inSession = new Set()));
        if (inSession.has(msg.commandUUID)) return;
        inSession.add(msg.commandUUID);
        ctx.warn(s.who, {
          sessionId: s.id,
          commandUUIDs: [msg.commandUUID],
          message: explain.unexpected(rt),
          detail: { requestType: rt },
        });
      },
      onSessionEnd(_ctx, s) {
        seen.delete(s.id);
      },
    };
  },
});
