/**
 * What the rest of mdmtap may know about the rules and settings, read from their definitions: the store, the
 * exports, the dashboard and the command line never name a rule or a setting themselves.
 */
import { RULES } from './rules/index.js';
import type { RuleDefinition } from './rules/rule.js';
import { CORE_SETTINGS, type SettingSpec, type Settings } from './settings.js';

export { RULES };

const byId = new Map(RULES.map((r) => [r.id, r]));

export function ruleInfo(id: string): RuleDefinition | undefined {
  return byId.get(id);
}

/** The rules whose warnings are raised when a push obligation expires. */
export const OBLIGATION_RULES: readonly string[] = RULES.filter((r) => r.judgesObligations).map((r) => r.id);

/** Every setting: the analyzer's own, then each rule's. */
export const SETTINGS: readonly SettingSpec[] = [...CORE_SETTINGS, ...RULES.flatMap((r) => r.settings ?? [])];

export function defaultSettings(): Settings {
  return Object.fromEntries(SETTINGS.map((s) => [s.key, s.default]));
}

/** The known settings found in `o` (positive numbers), e.g. a capture line or HAR metadata. */
export function settingsIn(o: Record<string, unknown> | undefined): Settings {
  const out: Settings = {};
  for (const s of SETTINGS) {
    const v = o?.[s.key];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[s.key] = v;
  }
  return out;
}
