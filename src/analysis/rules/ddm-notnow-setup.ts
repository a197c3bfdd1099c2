/**
 * `ddm-notnow-setup`: a device in Setup Assistant (its TokenUpdate said AwaitingConfiguration) answered NotNow to
 * the DeclarativeManagement command, and the session ended without that command acknowledged and without the
 * device released (an acknowledged DeviceConfigured). A server waiting for that command's result before it
 * releases the device has left devices never released (fleetdm/fleet#18160, #18484). Judged when the session ends:
 * a server that offers the command again in the same session and has it acknowledged did what it should (real
 * NanoMDM re-offers refused commands), and raising at the NotNow would be a warning an auditor could not stand by.
 * Resolved when a DeclarativeManagement command is acknowledged, or DeviceConfigured (the wait is over).
 */
import { defineRule, type Rule, type RuleContext } from './rule.js';
import { explain } from '../messages.js';
import type { WhoFields } from '../../model/events.js';

export const ddmNotNowSetup = defineRule({
  id: 'ddm-notnow-setup',
  severity: 'warning',
  summary: 'a device awaiting configuration (Setup Assistant) refused the DeclarativeManagement command and the session ended with it unacknowledged',
  create: (): Rule => {
    // Device channels whose last TokenUpdate said AwaitingConfiguration.
    const awaiting = new Set<string>();
    // Per channel: the refused command of the session in progress, judged when the session ends.
    const refused = new Map<string, string>();
    // Per channel: the warning raised, until the command is acknowledged or the device released.
    const raised = new Map<string, { warningId: string; who: WhoFields }>();
    const settle = (ctx: RuleContext, key: string, sessionId: string) => {
      refused.delete(key);
      const r = raised.get(key);
      if (!r) return;
      raised.delete(key);
      ctx.resolve(r.warningId, r.who, 'acknowledged', sessionId);
    };
    return {
      onCheckin(_ctx, msg, who, key) {
        if (msg.messageType !== 'TokenUpdate' || who.channel !== 'device') return;
        if (msg.awaitingConfiguration === true) awaiting.add(key);
        else awaiting.delete(key);
      },
      onReport(ctx, s, msg) {
        const uuid = msg.commandUUID;
        const requestType = uuid ? ctx.requestType(s.key, uuid) : undefined;
        if (!uuid || (msg.status !== 'NotNow' && msg.status !== 'Acknowledged')) return;
        if (requestType === 'DeviceConfigured' && msg.status === 'Acknowledged') {
          awaiting.delete(s.key);
          return settle(ctx, s.key, s.id);
        }
        if (requestType !== 'DeclarativeManagement') return;
        if (msg.status === 'Acknowledged') return settle(ctx, s.key, s.id);
        if (awaiting.has(s.key)) refused.set(s.key, uuid);
      },
      onSessionEnd(ctx, s) {
        const uuid = refused.get(s.key);
        if (uuid === undefined) return;
        refused.delete(s.key);
        if (!awaiting.has(s.key) || raised.has(s.key)) return;
        const warningId = ctx.warn(s.who, { sessionId: s.id, commandUUIDs: [uuid], message: explain.ddmNotNowSetup('DeclarativeManagement'), detail: { commandUUID: uuid } });
        raised.set(s.key, { warningId, who: s.who });
      },
    };
  },
});
