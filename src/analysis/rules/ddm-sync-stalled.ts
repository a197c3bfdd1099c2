/**
 * `ddm-sync-stalled`: the server offered a new DeclarationsToken — in a tokens response, or in a
 * DeclarativeManagement command the device acknowledged — and the device did not fetch the declaration items
 * within the push grace, so its declarations are not updated ("stuck in Verifying", fleetdm/fleet#25812).
 * Resolved when the device fetches them.
 *
 * Judged only when mdmtap knows which token the device holds: it saw the device fetch declaration items, or saw
 * its enrollment begin (Authenticate: it holds none). A device that already has the offered token rightly fetches
 * nothing, and without that history — a capture started in front of an enrolled fleet, or a restart — an
 * unchanged token cannot be told from a new one.
 */
import { defineRule, type Rule, type RuleContext } from './rule.js';
import { explain } from '../messages.js';
import type { WhoFields } from '../../model/events.js';
import type { Timer } from '../timers.js';
import { RecentMap } from '../../util/recent-map.js';

/** What an enrollment that just began holds: no DeclarationsToken (no token the server offers is empty). */
const NO_TOKEN = '';

interface Waiting {
  token: string;
  who: WhoFields;
  timer: Timer;
  warningId?: string;
}

export const ddmSyncStalled = defineRule({
  id: 'ddm-sync-stalled',
  severity: 'warning',
  summary: 'the server offered new DDM tokens (tokens response or DeclarativeManagement command) and the device did not fetch the declaration items within the push grace',
  create: (): Rule => {
    // Per channel: the DeclarationsToken of the declaration items the device last fetched (absent: not known).
    const synced = new Map<string, string>();
    // Per channel: the DeclarativeManagement commands sent, by CommandUUID, with the token they carry.
    const commands = new Map<string, Map<string, string>>();
    const waiting = new Map<string, Waiting>();

    const offer = (ctx: RuleContext, key: string, who: WhoFields, token: string, how: string, ts: number) => {
      const held = synced.get(key);
      if (held === undefined || held === token || waiting.get(key)?.token === token) return;
      const was = waiting.get(key);
      if (was && !was.warningId) was.timer.cancelled = true;
      const grace = ctx.setting('pushGraceMs');
      const w: Waiting = {
        token,
        who,
        timer: ctx.at(ts + grace, () => {
          if (waiting.get(key) !== w) return;
          w.warningId = ctx.warn(who, { message: explain.ddmSyncStalled(how, token, grace), detail: { declarationsToken: token, offeredBy: how, offeredAt: new Date(ts).toISOString() } });
        }),
      };
      // A warning already raised for an older token stays until the device syncs.
      if (was?.warningId) w.warningId = was.warningId;
      waiting.set(key, w);
    };

    return {
      onCheckin(ctx, msg, who, key) {
        if (msg.messageType === 'CheckOut' || msg.messageType === 'Authenticate') {
          const w = waiting.get(key);
          if (w) w.timer.cancelled = true;
          waiting.delete(key);
          // A new enrollment starts with no declarations; a finished one is not judged any more.
          if (msg.messageType === 'Authenticate') synced.set(key, NO_TOKEN);
          else synced.delete(key);
          return;
        }
        const d = msg.ddm;
        if (!d || d.notFound) return;
        if (d.kind === 'tokens' && d.declarationsToken !== undefined) offer(ctx, key, who, d.declarationsToken, 'tokens response', msg.ts);
        if (d.kind === 'declaration-items') {
          if (d.declarationsToken !== undefined) synced.set(key, d.declarationsToken);
          const w = waiting.get(key);
          if (!w) return;
          w.timer.cancelled = true;
          waiting.delete(key);
          if (w.warningId) ctx.resolve(w.warningId, w.who, 'synced');
        }
      },
      onReport(ctx, s, msg) {
        if (msg.reply.kind === 'command' && msg.reply.requestType === 'DeclarativeManagement' && msg.reply.declarationsToken !== undefined) {
          let mine = commands.get(s.key);
          if (!mine) commands.set(s.key, (mine = new RecentMap(16)));
          mine.set(msg.reply.commandUUID, msg.reply.declarationsToken);
        }
        const token = msg.commandUUID ? commands.get(s.key)?.get(msg.commandUUID) : undefined;
        if (token !== undefined && msg.status === 'Acknowledged') {
          commands.get(s.key)!.delete(msg.commandUUID!);
          offer(ctx, s.key, s.who, token, 'DeclarativeManagement command', msg.ts);
        }
      },
    };
  },
});
