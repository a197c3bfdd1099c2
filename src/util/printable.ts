/**
 * Text that came from a device or the network, made safe to print on a terminal: control characters (C0, DEL,
 * C1) are shown as `\xNN` instead of being sent. A UDID spelled with character references, or a TLS server name,
 * could otherwise carry escape sequences that retitle the terminal or overwrite the lines around them.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : s;
}

/** Like printable(), for a line that may hold newlines of its own (a report): those stay. */
export function printableLines(s: string): string {
  return s.split('\n').map(printable).join('\n');
}

/**
 * The same value with every string in it printable, or the value itself when nothing needed it (the common case
 * allocates nothing). Bodies and other binary values are left alone. Past MAX_DEPTH (beyond what the plist
 * decoder lets through) a tree is replaced by a note, never passed on unchecked.
 */
const MAX_DEPTH = 1000;

export function printableDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return printable(value) as T;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (depth > MAX_DEPTH) return '(nested too deep to show)' as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const p = printableDeep(v, depth + 1);
      if (p !== v) (out ??= value.slice())[i] = p;
    });
    return (out ?? value) as T;
  }
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[k];
    const p = printableDeep(v, depth + 1);
    const pk = printable(k);
    if (p !== v || pk !== k) {
      out ??= { ...(value as Record<string, unknown>) };
      if (pk !== k) delete out[k];
      out[pk] = p;
    }
  }
  return (out ?? value) as T;
}
