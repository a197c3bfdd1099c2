/** Epoch milliseconds as the ISO 8601 text every event carries. */
let lastSecond = NaN;
let secondPrefix = '';
/**
 * ISO 8601 of an epoch ms, as Date#toISOString writes it. Every event needs one and a Date costs: the
 * `YYYY-MM-DDTHH:MM:SS` of the current second is kept and the milliseconds appended.
 */
export const iso = (ms: number): string => {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, -5);
  }
  const frac = ms - second * 1000;
  return `${secondPrefix}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
};
