/**
 * `push-no-checkin`: a push that could wake the device (APNs took it, the PushMagic is the channel's) drew no
 * session within `--push-wake`. The commonest complaint about MDM (micromdm#1070, fleetdm/fleet#20379): a wrong
 * topic after a certificate change, a stale PushMagic after re-enrolment, or a device offline. Raised once per
 * run of unanswered pushes, resolved when the device next opens a session.
 */
import { defineRule, type Rule } from './rule.js';
import type { SettingSpec } from '../settings.js';
import type { WhoFields } from '../../model/events.js';
import type { Timer } from '../timers.js';
import { explain } from '../messages.js';

interface Waiting {
  firstTs: number;
  pushes: number;
  who: WhoFields;
  timer: Timer;
  warningId?: string;
  apnsExpiration?: string;
}

export const PUSH_WAKE: SettingSpec = {
  key: 'pushWakeMs',
  flag: '--push-wake',
  description: 'how long a push has to draw a session before push-no-checkin',
  default: 300_000,
};

export const pushNoCheckin = defineRule({
  id: 'push-no-checkin',
  severity: 'info',
  settings: [PUSH_WAKE],
  summary: 'a push APNs accepted drew no session within `--push-wake` (wrong topic, stale PushMagic, device offline)',
  create: (): Rule => {
    const waiting = new Map<string, Waiting>();
    return {
      onPush(ctx, push, target, wakes) {
        if (!target || !wakes || ctx.inSession(target.key)) return;
        const w = waiting.get(target.key);
        if (w) {
          w.pushes++;
          return;
        }
        const entry: Waiting = {
          firstTs: push.ts,
          pushes: 1,
          who: target.who,
          ...(push.apnsExpiration !== undefined ? { apnsExpiration: push.apnsExpiration } : {}),
          timer: ctx.at(push.ts + ctx.setting(PUSH_WAKE.key), () => {
            if (waiting.get(target.key) !== entry) return;
            entry.warningId = ctx.warn(entry.who, {
              message: explain.pushNoCheckin(ctx.setting(PUSH_WAKE.key), entry.pushes),
              detail: {
                firstPush: new Date(entry.firstTs).toISOString(),
                pushes: entry.pushes,
                tokenHex: `${push.tokenPrefix}…`,
                ...(entry.apnsExpiration !== undefined ? { apnsExpiration: entry.apnsExpiration } : {}),
              },
            });
          }),
        };
        waiting.set(target.key, entry);
      },
      onSessionStart(ctx, s) {
        const w = waiting.get(s.key);
        if (!w) return;
        waiting.delete(s.key);
        w.timer.cancelled = true;
        if (w.warningId) ctx.resolve(w.warningId, w.who, 'device-returned');
      },
      onCheckin(_ctx, msg, _who, key) {
        if (msg.messageType !== 'CheckOut') return;
        const w = waiting.get(key);
        if (w) w.timer.cancelled = true;
        waiting.delete(key);
      },
    };
  },
});
