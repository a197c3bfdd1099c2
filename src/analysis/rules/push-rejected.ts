/** `push-rejected`: APNs answered the server's push with 4xx/5xx, so the device was not woken. */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';

export const pushRejected = defineRule({
  id: 'push-rejected',
  severity: 'warning',
  summary: 'APNs rejected a push (the reason is in the event)',
  create: (): Rule => ({
    onPush(ctx, push, target) {
      if (push.apnsStatus < 400) return;
      const detail: Record<string, string | number> = { apnsStatus: push.apnsStatus, tokenHex: `${push.tokenPrefix}…` };
      if (push.reason) detail.reason = push.reason;
      ctx.warn(target?.who ?? { udid: 'unknown', channel: 'device' }, {
        message: explain.pushRejected(push.apnsStatus, push.reason),
        detail,
      });
    },
  }),
});
