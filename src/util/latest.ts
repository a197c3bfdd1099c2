/** The latest of some times (ms), skipping unknown ones: where a capture ends, from whatever it holds. */
export function latest(times: Iterable<number | undefined>): number | undefined {
  let last: number | undefined;
  for (const t of times) if (t !== undefined && (last === undefined || t > last)) last = t;
  return last;
}
