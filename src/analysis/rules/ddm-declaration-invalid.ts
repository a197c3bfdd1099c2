/**
 * `ddm-declaration-invalid`: a DDM status report marks a declaration invalid (the device will not apply it).
 * Raised once per declaration and server token, with the device's reasons; resolved when a later report marks
 * it valid, or a full report no longer names it (the server removed it).
 */
import { defineRule, type Rule } from './rule.js';
import { explain } from '../messages.js';
import type { WhoFields } from '../../model/events.js';

interface Flagged {
  serverToken: string;
  warningId: string;
  who: WhoFields;
}

export const ddmDeclarationInvalid = defineRule({
  id: 'ddm-declaration-invalid',
  severity: 'info',
  summary: 'a DDM status report marks a declaration invalid (its reasons are in the event)',
  create: (): Rule => {
    // Per channel: declaration (kind|identifier) → the warning raised for it.
    const flagged = new Map<string, Map<string, Flagged>>();
    return {
      onCheckin(ctx, msg, who, key) {
        const status = msg.ddm?.status;
        if (!status) return;
        let mine = flagged.get(key);
        const named = new Set<string>();
        for (const d of status.declarations) {
          const id = `${d.kind}|${d.identifier}`;
          named.add(id);
          const was = mine?.get(id);
          const token = d.serverToken ?? '';
          if (was && (d.valid !== 'invalid' || was.serverToken !== token)) {
            ctx.resolve(was.warningId, was.who, 'valid');
            mine!.delete(id);
          }
          if (d.valid === 'invalid' && !(was && was.serverToken === token)) {
            const reasons = (d.reasons ?? []).map((r) => (r.description ? `${r.code}: ${r.description}` : r.code));
            const warningId = ctx.warn(who, {
              message: explain.ddmInvalid(d.kind, d.identifier, reasons.join('; ')),
              detail: { kind: d.kind, identifier: d.identifier, serverToken: token, reasons: (d.reasons ?? []).map((r) => r.code), ...(d.active !== undefined ? { active: d.active } : {}) },
            });
            if (!mine) flagged.set(key, (mine = new Map()));
            mine.set(id, { serverToken: token, warningId, who });
          }
        }
        // A full report names every declaration the device has: one it no longer names was removed.
        if (status.full && mine) {
          for (const [id, f] of mine) {
            if (named.has(id)) continue;
            ctx.resolve(f.warningId, f.who, 'valid');
            mine.delete(id);
          }
        }
      },
    };
  },
});
