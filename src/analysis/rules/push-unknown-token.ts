/** `push-unknown-token`: a push to a token no TokenUpdate announced. */
import type { Rule } from './rule.js';
import { explain } from '../messages.js';

export const pushUnknownToken = (): Rule => ({
  onPush(ctx, push, target) {
    if (target) return;
    ctx.warn('push-unknown-token', 'warning', { udid: 'unknown', channel: 'device' }, {
      message: explain.pushUnknownToken(push.tokenPrefix),
      detail: { tokenHex: `${push.tokenPrefix}…`, apnsStatus: push.apnsStatus },
    });
  },
});
