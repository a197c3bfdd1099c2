/** XML plists as Apple devices write them: dictionary keys in sorted order, at every depth. */
import * as plist from 'plist';

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function applePlist(value: Record<string, unknown>): Buffer {
  return Buffer.from(plist.build(sortKeys(value) as plist.PlistValue));
}
