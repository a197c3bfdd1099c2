import { describe, expect, it } from 'vitest';
import { RecentMap } from '../../src/util/recent-map.js';

describe('RecentMap', () => {
  it('keeps the most recently set entries, whatever was deleted or set again meanwhile', () => {
    const m = new RecentMap<number, number>(50);
    const model: number[] = [];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let i = 0; i < 20_000; i++) {
      const k = rnd(200);
      const op = rnd(10);
      if (op < 2) {
        m.delete(k);
        const at = model.indexOf(k);
        if (at >= 0) model.splice(at, 1);
      } else if (op === 2 && rnd(100) === 0) {
        m.clear();
        model.length = 0;
      } else {
        m.set(k, i);
        const at = model.indexOf(k);
        if (at >= 0) model.splice(at, 1);
        model.push(k);
        if (model.length > 50) model.shift();
      }
      expect([...m.keys()]).toEqual(model);
    }
  });

  it('refuses a size that could hold nothing', () => {
    expect(() => new RecentMap(0)).toThrow(RangeError);
  });
});
