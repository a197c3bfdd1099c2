/**
 * The analyzer's settings: durations (ms) that decide verdicts. Each is a flag of `mdmtap start` and
 * `mdmtap analyze`, is recorded with a capture (so a replay judges alike), and has a default. The analyzer's own
 * are here; a rule that needs one declares it in its definition (registry.ts gathers them all).
 */
export interface SettingSpec {
  /** The key in settings, capture lines and HAR metadata: always ends in `Ms`. */
  readonly key: `${string}Ms`;
  /** The command-line flag, e.g. `--push-grace`; recorded in `runs.options` under its camelCase name. */
  readonly flag: `--${string}`;
  readonly description: string;
  readonly default: number;
}

/** Settings by key (ms); every key ends in `Ms`, so options of other kinds can sit beside them. */
export type Settings = Record<`${string}Ms`, number>;

export const PUSH_GRACE: SettingSpec = {
  key: 'pushGraceMs',
  flag: '--push-grace',
  description: 'how long a server has to push after a session that owes one',
  default: 120_000,
};

export const SESSION_TIMEOUT: SettingSpec = {
  key: 'sessionTimeoutMs',
  flag: '--session-timeout',
  description: 'a session silent this long counts as interrupted',
  default: 60_000,
};

export const CORE_SETTINGS: readonly SettingSpec[] = [PUSH_GRACE, SESSION_TIMEOUT];

/** The name commander gives a flag's value, which is also how `runs.options` records it: `--push-grace` → pushGrace. */
export function optionName(spec: SettingSpec): string {
  return spec.flag.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}
