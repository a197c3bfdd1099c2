/**
 * `notnow-retry-storm`: a command refused 3 or more times in one session — offered again right after its NotNow,
 * or alternated with other refused commands (the Power Nap ping-pong of micromdm#225). The device is busy; the
 * server should stop with an empty reply and let it poll.
 *
 * A final status in between breaks the run: a device that completes other commands is not busy, and offering the
 * refused one again after them is the re-offer real servers make (NanoMDM), not a storm.
 */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';
import { FINAL_STATUSES } from '../session.js';

export const RETRY_STORM_THRESHOLD = 3;

interface Tally {
  /** Times the server offered the command in this session. */
  offers: number;
  refusals: number;
  /** `offers` when the last refusal was counted: a repeated report without a new offer is not a new refusal. */
  offersAtRefusal: number;
  /** Raised already in this session: one warning per command and session, however many runs it has. */
  warned: boolean;
}

export const notNowRetryStorm = defineRule({
  id: 'notnow-retry-storm',
  severity: 'warning',
  summary: 'a command was refused 3+ times in one session, re-sent right away or alternated with other refused commands (Power Nap ping-pong)',
  create: (): Rule => {
    const perSession = new Map<string, Map<string, Tally>>();
    const tally = (sessionId: string, uuid: string): Tally => {
      let s = perSession.get(sessionId);
      if (!s) perSession.set(sessionId, (s = new Map()));
      let t = s.get(uuid);
      if (!t) s.set(uuid, (t = { offers: 0, refusals: 0, offersAtRefusal: -1, warned: false }));
      return t;
    };
    return {
      onReport(ctx, s, msg) {
        if (s.userConfiguration) return;
        const uuid = msg.commandUUID;
        if (FINAL_STATUSES.has(msg.status)) for (const t of perSession.get(s.id)?.values() ?? []) t.refusals = 0;
        if (msg.status === 'NotNow' && uuid) {
          const t = tally(s.id, uuid);
          if (t.offersAtRefusal < t.offers || t.refusals === 0) {
            t.refusals++;
            t.offersAtRefusal = t.offers;
            if (t.refusals === RETRY_STORM_THRESHOLD && !t.warned) {
              t.warned = true;
              const rt = ctx.requestType(s.key, uuid) ?? s.sent.get(uuid) ?? 'command';
              const others = [...(perSession.get(s.id) ?? [])].filter(([u, x]) => u !== uuid && x.refusals > 0).map(([u]) => u);
              ctx.warn(s.who, {
                sessionId: s.id,
                commandUUIDs: [uuid],
                message: explain.retryStorm(rt, t.refusals, others.map((u) => ctx.requestType(s.key, u) ?? 'command')),
                detail: { requestType: rt, refusals: t.refusals, ...(others.length ? { alternatedWith: others } : {}) },
              });
            }
          }
        }
        if (msg.reply.kind === 'command') tally(s.id, msg.reply.commandUUID).offers++;
      },
      onSessionEnd(_ctx, s) {
        perSession.delete(s.id);
      },
    };
  },
});
