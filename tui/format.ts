/** Small text helpers shared by the dashboard's components. */

/** UDIDs are long: keep the start and the end, which is how people recognise them. */
export function shortId(id: string, max = 14): string {
  if (id.length <= max) return id;
  const tail = 4;
  return `${id.slice(0, max - tail - 1)}…${id.slice(-tail)}`;
}

export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function clock(ts: number): string {
  return new Date(ts).toISOString().slice(11, 19);
}

export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text.padEnd(width);
  return width === 1 ? '…' : text.slice(0, width - 1) + '…';
}

const BARS = ' ▁▂▃▄▅▆▇█';

export function sparkline(values: number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => BARS[Math.min(8, Math.round((v / max) * 8))]).join('');
}

/** A channel as the device table and the warnings panel label it. */
export function channelLabel(channel: string): string {
  return channel === 'user' ? 'user' : 'dev';
}

/** The selection gutter: a marker people see whatever the terminal does with colour and inverse (NO_COLOR, TERM=dumb). */
export function mark(selected: boolean): string {
  return selected ? '› ' : '  ';
}
