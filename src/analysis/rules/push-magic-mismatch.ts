/** `push-magic-mismatch`: the push's `mdm` value is not the channel's PushMagic (compared as hashes). */
import type { Rule } from './rule.js';
import { explain } from '../messages.js';

export function magicMismatch(pushMagicHash: string | undefined, expected: string | undefined): boolean {
  return pushMagicHash !== undefined && expected !== undefined && pushMagicHash !== expected;
}

export const pushMagicMismatch = (): Rule => ({
  onPush(ctx, push, target) {
    if (!target || target.checkedOut || !magicMismatch(push.pushMagicHash, target.pushMagicHash)) return;
    ctx.warn('push-magic-mismatch', 'info', target.who, {
      message: explain.pushMagicMismatch(),
      detail: { tokenHex: `${push.tokenPrefix}…` },
    });
  },
});
