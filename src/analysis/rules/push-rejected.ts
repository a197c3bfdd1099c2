/** `push-rejected`: APNs answered the server's push with 4xx/5xx, so the device was not woken. */
import type { Rule } from './rule.js';
import { explain } from '../messages.js';

export const pushRejected = (): Rule => ({
  onPush(ctx, push, target) {
    if (push.apnsStatus < 400) return;
    const detail: Record<string, string | number> = { apnsStatus: push.apnsStatus, tokenHex: `${push.tokenPrefix}…` };
    if (push.reason) detail.reason = push.reason;
    ctx.warn('push-rejected', 'warning', target?.who ?? { udid: 'unknown', channel: 'device' }, {
      message: explain.pushRejected(push.apnsStatus, push.reason),
      detail,
    });
  },
});
