/** `push-magic-mismatch`: the push's `mdm` value is not the channel's PushMagic (compared as hashes). */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';

export function magicMismatch(pushMagicHash: string | undefined, expected: string | undefined): boolean {
  return pushMagicHash !== undefined && expected !== undefined && pushMagicHash !== expected;
}

export const pushMagicMismatch = defineRule({
  id: 'push-magic-mismatch',
  severity: 'info',
  summary: "a push's `mdm` value is not the device's PushMagic",
  create: (): Rule => ({
    onPush(ctx, push, target) {
      if (!target || target.checkedOut || !magicMismatch(push.pushMagicHash, target.pushMagicHash)) return;
      ctx.warn(target.who, {
        message: explain.pushMagicMismatch(),
        detail: { tokenHex: `${push.tokenPrefix}…` },
      });
    },
  }),
});
