/** Option parsers shared by the commands, each turning a bad value into one clear UserError line. */
import { Option } from 'commander';
import { formatDuration, parseDuration } from '../util/duration.js';
import { formatSize, parseSize } from '../util/size.js';
import { UserError } from './errors.js';
import { CA_KEY_TYPES, type CaKeyType } from '../proxy/ca.js';
import { parseCidr } from '../proxy/client-filter.js';

export function durationOption(flag: string, minMs = 0) {
  return (value: string): number => {
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (e) {
      throw new UserError(`${flag}: ${(e as Error).message}`);
    }
    if (ms < minMs) throw new UserError(`${flag}: "${value}" is too short (at least ${minMs} ms)`);
    return ms;
  };
}

export function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UserError(`--port: "${value}" is not a port number (0-65535)`);
  return n;
}

export function sizeOption(flag: string) {
  return (value: string): number => {
    try {
      return parseSize(value);
    } catch (e) {
      throw new UserError(`${flag}: ${(e as Error).message}`);
    }
  };
}

/** An option holding a duration, its default shown as a user would type it (`2m`, not 120000). */
export function durationFlag(flags: string, description: string, defaultMs: number, minMs = 0): Option {
  return new Option(flags, description).argParser(durationOption(flags.split(' ')[0], minMs)).default(defaultMs, formatDuration(defaultMs));
}

/** An option holding a size, its default shown as a user would type it (`16MiB`, not 16777216). */
export function sizeFlag(flags: string, description: string, defaultBytes: number): Option {
  return new Option(flags, description).argParser(sizeOption(flags.split(' ')[0])).default(defaultBytes, formatSize(defaultBytes));
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** An ISO 8601 time (or anything Date.parse reads) → epoch ms. */
export function timeOption(flag: string) {
  return (value: string): number => {
    const t = Date.parse(value);
    if (!Number.isFinite(t)) throw new UserError(`${flag}: "${value}" is not a time (write it like 2026-11-25T10:00:00Z)`);
    return t;
  };
}

export function caKeyTypeOption(value: string): CaKeyType {
  if (!(CA_KEY_TYPES as readonly string[]).includes(value)) throw new UserError(`--ca-key-type: "${value}" is not one of ${CA_KEY_TYPES.join(', ')}`);
  return value as CaKeyType;
}

export function countOption(flag: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min) throw new UserError(`${flag}: "${value}" is not a whole number of at least ${min}`);
    return n;
  };
}

export function cidrOption(value: string, previous: string[] = []): string[] {
  try {
    parseCidr(value);
  } catch (e) {
    throw new UserError(`--allow-client: ${(e as Error).message}`);
  }
  return [...previous, value];
}
