/**
 * `notnow-no-return`: a session ended on NotNow and the device did not open another one within
 * `--return-window`. Apple says the device polls again by itself after a final NotNow; Fleet PR #43814 says it
 * does not until it reconnects to APNs. This measures it: every session start after such a session carries
 * `sinceNotNowMs`, and a device that stays away is reported here (resolved when it comes back).
 */
import { defineRule, type Rule } from './rule.js';
import type { SettingSpec } from '../settings.js';
import type { WhoFields } from '../../model/events.js';
import type { Timer } from '../timers.js';
import { explain } from '../messages.js';

export const RETURN_WINDOW: SettingSpec = {
  key: 'returnWindowMs',
  flag: '--return-window',
  description: 'how long a device has to come back after ending on NotNow before notnow-no-return',
  default: 3_600_000,
};

export const notNowNoReturn = defineRule({
  id: 'notnow-no-return',
  severity: 'info',
  settings: [RETURN_WINDOW],
  summary: 'a session ended on NotNow and the device did not come back within `--return-window`',
  create: (): Rule => {
    const waiting = new Map<string, { who: WhoFields; sessionId: string; timer: Timer; warningId?: string }>();
    const stop = (key: string) => {
      const w = waiting.get(key);
      if (w) w.timer.cancelled = true;
      waiting.delete(key);
      return w;
    };
    return {
      onSessionEnd(ctx, s, outcome) {
        stop(s.key);
        if (outcome !== 'ended-on-notnow' || s.userConfiguration) return;
        const ended = s.lastTs;
        const entry = {
          who: s.who,
          sessionId: s.id,
          timer: ctx.at(ended + ctx.setting(RETURN_WINDOW.key), () => {
            if (waiting.get(s.key) !== entry) return;
            entry.warningId = ctx.warn(s.who, {
              sessionId: s.id,
              message: explain.notNowNoReturn(ctx.setting(RETURN_WINDOW.key)),
              detail: { sessionEnded: new Date(ended).toISOString(), window: ctx.setting(RETURN_WINDOW.key) },
            });
          }),
        } as { who: WhoFields; sessionId: string; timer: Timer; warningId?: string };
        waiting.set(s.key, entry);
      },
      onSessionStart(ctx, s) {
        const w = stop(s.key);
        if (w?.warningId) ctx.resolve(w.warningId, w.who, 'device-returned', w.sessionId);
      },
      onCheckin(_ctx, msg, _who, key) {
        if (msg.messageType === 'CheckOut') stop(key);
      },
    };
  },
});
