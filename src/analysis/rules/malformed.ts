/** `malformed-body`: a body that claims to be MDM could not be decoded (it was still forwarded). */
import type { Rule } from './rule.js';
import { explain } from '../messages.js';

export const malformedBody = (): Rule => ({
  onMalformed(ctx, msg, who) {
    const side = msg.endpoint === 'malformed' ? msg.side : 'response';
    const reason = msg.endpoint === 'malformed' ? msg.reason : (msg.malformedResponse?.reason ?? 'undecodable');
    const offset = msg.endpoint === 'malformed' ? msg.offset : msg.malformedResponse?.offset;
    const detail: Record<string, string | number> = { side, reason, exchangeId: msg.exchangeId, httpStatus: msg.httpStatus };
    if (offset !== undefined) detail.offset = offset;
    ctx.warn('malformed-body', 'info', who, { message: explain.malformed(side, reason), detail });
  },
});
