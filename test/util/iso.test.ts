import { describe, expect, it } from 'vitest';
import { iso } from '../../src/util/iso.js';
import { rng } from '../helpers/rng.js';

describe('iso', () => {
  it('writes every instant exactly as Date#toISOString, whatever the order of calls', () => {
    const next = rng(5);
    const edges = [0, 1, 9, 10, 99, 100, 999, 1000, -1, -999, -1000, -1001, 1_700_000_000_123, 253_402_300_799_999];
    const random = Array.from({ length: 20_000 }, () => Math.floor((next() - 0.3) * 4e12));
    // Runs of instants in the same second, then jumps back and forth, as events of interleaved devices come.
    const runs = Array.from({ length: 2000 }, (_, i) => 1_700_000_000_000 + Math.floor(i / 7) * 1000 + (i % 7) * 123);
    for (const ms of [...edges, ...random, ...runs, ...runs.reverse()]) expect(iso(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});
