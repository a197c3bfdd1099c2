/** Sizes as users write them: `512k`, `16m`, `1g` (binary units; `16MiB` and `16mb` mean the same), or bytes. */
const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseSize(text: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a size (write it like 512k, 16m or 1g)`);
  return Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()[0]];
}

/** The way --help shows a default: `16MiB`, `256MiB`, `512KiB`, or bytes when no unit divides it. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [['GiB', UNITS.g], ['MiB', UNITS.m], ['KiB', UNITS.k]] as const) if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  return `${bytes}`;
}
