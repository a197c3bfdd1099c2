/** `push-unknown-token`: a push to a token no TokenUpdate announced. */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';

export const pushUnknownToken = defineRule({
  id: 'push-unknown-token',
  severity: 'warning',
  summary: 'a push went to a token no TokenUpdate announced',
  create: (): Rule => ({
    onPush(ctx, push, target) {
      if (target) return;
      ctx.warn({ udid: 'unknown', channel: 'device' }, {
        message: explain.pushUnknownToken(push.tokenPrefix),
        detail: { tokenHex: `${push.tokenPrefix}…`, apnsStatus: push.apnsStatus },
      });
    },
  }),
});
