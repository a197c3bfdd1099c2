/**
 * The analyzer's settings as command-line options, straight from their specs (the core's and each rule's): a
 * rule that declares a setting gets its flag on `start` and `analyze` without touching the command line.
 */
import type { Command } from 'commander';
import { SETTINGS } from '../analysis/registry.js';
import { optionName, type Settings } from '../analysis/settings.js';
import type { AnalyzerOptions } from '../analysis/analyzer.js';
import { durationFlag } from './options.js';

export function addSettingOptions(cmd: Command, note = ''): Command {
  for (const s of SETTINGS) cmd.addOption(durationFlag(`${s.flag} <duration>`, s.description + note, s.default));
  return cmd;
}

/**
 * The settings a command runs with. `recorded` (what a capture was judged with) wins over a default, never over
 * a flag the user gave.
 */
export function settingsFrom(cmd: Command, recorded: AnalyzerOptions = {}): Settings {
  const opts = cmd.opts() as Record<string, number>;
  const out = {} as Settings;
  for (const s of SETTINGS) {
    const name = optionName(s);
    const fromCapture = recorded[s.key];
    out[s.key] = cmd.getOptionValueSource(name) === 'default' && fromCapture ? fromCapture : opts[name];
  }
  return out;
}
