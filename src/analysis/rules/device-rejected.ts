/**
 * `device-rejected`: the server refused a device's report or check-in with HTTP 4xx — typically an unknown or
 * expired identity certificate. Not a NotNow matter (nothing ran on the server, a push cannot help), but worth
 * seeing: raised once per run of refusals on a channel, resolved when the server takes its requests again.
 */
import { defineRule, type Rule } from './rule.js';
import type { WhoFields } from '../../model/events.js';
import { explain } from '../messages.js';

export const deviceRejected = defineRule({
  id: 'device-rejected',
  severity: 'info',
  summary: "the server refused a device's report or check-in with HTTP 4xx",
  create: (): Rule => {
    const open = new Map<string, { warningId: string; who: WhoFields; count: number }>();
    const accepted = (ctx: Parameters<NonNullable<Rule['onCheckin']>>[0], key: string) => {
      const o = open.get(key);
      if (!o) return;
      open.delete(key);
      ctx.resolve(o.warningId, o.who, 'accepted');
    };
    return {
      onRejected(ctx, msg, who, key) {
        const o = open.get(key);
        if (o) {
          o.count++;
          return;
        }
        const what = msg.endpoint === 'command' ? `${msg.status} report` : `${msg.messageType} check-in`;
        const warningId = ctx.warn(who, {
          message: explain.deviceRejected(what, msg.httpStatus),
          detail: { httpStatus: msg.httpStatus, request: what, exchangeId: msg.exchangeId },
        });
        open.set(key, { warningId, who, count: 1 });
      },
      onReport(ctx, s) {
        accepted(ctx, s.key);
      },
      onCheckin(ctx, _msg, _who, key) {
        accepted(ctx, key);
      },
    };
  },
});
