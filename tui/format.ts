/** Small text helpers shared by the dashboard's components. */

/**
 * An identity in `width` columns: whole when it fits, else shortened from the middle only as far as needed. The
 * end gets the larger half: a real UDID's first 8 digits name the chip model, its end tells devices apart.
 */
export function middle(id: string, width: number): string {
  if (id.length <= width) return id;
  if (width <= 1) return '…'.slice(0, width);
  const head = Math.floor((width - 1) / 2);
  const tail = width - 1 - head;
  return `${id.slice(0, head)}…${id.slice(id.length - tail)}`;
}

/** Words wrapped to `width` columns (a word longer than the line is cut into pieces). */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (let word of para.split(' ')) {
      while (word.length > w) {
        if (line) {
          out.push(line);
          line = '';
        }
        out.push(word.slice(0, w));
        word = word.slice(w);
      }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= w) line += ` ${word}`;
      else {
        out.push(line);
        line = word;
      }
    }
    out.push(line);
  }
  return out;
}

/**
 * The items that fit in `width`, kept in their order: when not all fit, the lowest priority (largest number) go
 * first. For the header's counters and the footer's keys.
 */
export function fitItems(items: ReadonlyArray<{ text: string; priority: number }>, width: number, sep = '  '): string[] {
  const kept = new Set(items.map((_, i) => i));
  const len = () => [...kept].reduce((n, i) => n + items[i].text.length, 0) + Math.max(0, kept.size - 1) * sep.length;
  const byPriority = items.map((it, i) => ({ i, p: it.priority })).sort((a, b) => b.p - a.p || b.i - a.i);
  for (const { i } of byPriority) {
    if (len() <= width) break;
    kept.delete(i);
  }
  return items.filter((_, i) => kept.has(i)).map((it) => it.text);
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
