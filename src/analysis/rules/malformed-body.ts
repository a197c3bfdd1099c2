/** `malformed-body`: a body that claims to be MDM could not be decoded (it was still forwarded). */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';

export const malformedBody = defineRule({
  id: 'malformed-body',
  severity: 'info',
  summary: 'a body claiming to be MDM could not be decoded (it was still forwarded unchanged)',
  create: (): Rule => ({
    onMalformed(ctx, msg, who) {
      const side = msg.endpoint === 'malformed' ? msg.side : 'response';
      const reason = msg.endpoint === 'malformed' ? msg.reason : (msg.malformedResponse?.reason ?? 'undecodable');
      const offset = msg.endpoint === 'malformed' ? msg.offset : msg.malformedResponse?.offset;
      const detail: Record<string, string | number> = { side, reason, exchangeId: msg.exchangeId, httpStatus: msg.httpStatus };
      if (offset !== undefined) detail.offset = offset;
      ctx.warn(who, { message: explain.malformed(side, reason), detail });
    },
  }),
});
