import { describe, expect, it } from 'vitest';
import { printable, printableDeep } from '../../src/util/printable.js';

describe('printable', () => {
  it('shows C0, DEL and C1 controls as \\xNN and keeps everything else', () => {
    expect(printable('a\u001b]0;t\u0007b\u007f\u009bc é ✓')).toBe('a\\x1b]0;t\\x07b\\x7f\\x9bc é ✓');
    const clean = 'plain text';
    expect(printable(clean)).toBe(clean);
  });

  it('reaches keys and values at any depth a decoded body can have, and never passes a deeper tree on as it is', () => {
    const evil = { ['\u001b]0;PWNED\u0007']: 'x\u009b' };
    let shallow: unknown = evil;
    for (let i = 0; i < 600; i++) shallow = { a: shallow };
    let deep: unknown = evil;
    for (let i = 0; i < 1500; i++) deep = { a: [deep] };
    for (const v of [shallow, deep]) expect(JSON.stringify(printableDeep(v))).not.toMatch(/\\u001b|\\u0007|\u009b/);
    expect(JSON.stringify(printableDeep(shallow))).toContain('\\\\x1b]0;PWNED\\\\x07');
    // Nothing to change: the very same object back, nothing allocated.
    const ok = { a: ['b', { c: 'd' }], n: 1, body: new Uint8Array([27]) };
    expect(printableDeep(ok)).toBe(ok);
  });
});
