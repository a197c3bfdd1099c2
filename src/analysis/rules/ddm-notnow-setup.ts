/**
 * `ddm-notnow-setup`: a device in Setup Assistant (its TokenUpdate said AwaitingConfiguration) answered NotNow to
 * the DeclarativeManagement command. Its DDM sync did not happen during Setup Assistant, and servers that did not
 * send the command again have left devices never released (fleetdm/fleet#18160). Resolved when the device
 * acknowledges a DeclarativeManagement command. An acknowledged DeviceConfigured ends the wait for configuration
 * (that is what AwaitingConfiguration waits for), so a NotNow after it is not raised.
 */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';
import type { WhoFields } from '../../model/events.js';

export const ddmNotNowSetup = defineRule({
  id: 'ddm-notnow-setup',
  severity: 'warning',
  summary: 'a device awaiting configuration (Setup Assistant) answered NotNow to the DeclarativeManagement command',
  create: (): Rule => {
    // Device channels whose last TokenUpdate said AwaitingConfiguration.
    const awaiting = new Set<string>();
    // Per channel: the warning raised, until a DeclarativeManagement command is acknowledged.
    const raised = new Map<string, { warningId: string; who: WhoFields }>();
    return {
      onCheckin(_ctx, msg, who, key) {
        if (msg.messageType !== 'TokenUpdate' || who.channel !== 'device') return;
        if (msg.awaitingConfiguration === true) awaiting.add(key);
        else awaiting.delete(key);
      },
      onReport(ctx, s, msg) {
        const uuid = msg.commandUUID;
        const requestType = uuid ? ctx.requestType(s.key, uuid) : undefined;
        if (requestType === 'DeviceConfigured' && msg.status === 'Acknowledged') awaiting.delete(s.key);
        if (!uuid || requestType !== 'DeclarativeManagement') return;
        if (msg.status === 'NotNow' && awaiting.has(s.key) && !raised.has(s.key)) {
          const warningId = ctx.warn(s.who, { sessionId: s.id, commandUUIDs: [uuid], message: explain.ddmNotNowSetup('DeclarativeManagement'), detail: { commandUUID: uuid } });
          raised.set(s.key, { warningId, who: s.who });
        } else if (msg.status === 'Acknowledged') {
          const r = raised.get(s.key);
          if (!r) return;
          raised.delete(s.key);
          ctx.resolve(r.warningId, r.who, 'acknowledged', s.id);
        }
      },
    };
  },
});
