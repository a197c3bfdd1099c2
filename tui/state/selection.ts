/**
 * Selection that follows the item, not the screen row: each pane remembers the key of what is selected (a device
 * key, an exchange id, a warning) and finds it again in every new snapshot, however the rows reorder. When the item
 * is gone (filtered out, or aged out of a bounded list) the selection stays where it was and says so.
 *
 * The exchange log follows its newest line (like `less +F`) until the person moves up; from then on the selected
 * exchange keeps its place on screen while new lines arrive, until they come back down to the newest.
 */
export interface Selection {
  /** The selected item's key; undefined: the first row (or, for a following log, the newest). */
  key?: string;
  /** Where it was last seen, for when it is gone. */
  index: number;
  /** Its row in the window when it was chosen (logs that do not follow keep it there). */
  offset: number;
}

export interface Placed {
  /** The selected row, or -1 when the list is empty. */
  index: number;
  /** The first row in the window. */
  start: number;
  /** Set when the selected item is no longer in the list. */
  lost?: boolean;
}

export const NONE: Selection = { index: 0, offset: 0 };

/** Finds the selection in `items` and the window of `visible` rows that shows it. */
export function place<T>(items: readonly T[], key: (t: T) => string, sel: Selection, visible: number, mode: 'centre' | 'follow'): Placed {
  const n = items.length;
  if (n === 0) return { index: -1, start: 0 };
  let index: number;
  let lost = false;
  if (sel.key === undefined) index = mode === 'follow' ? n - 1 : 0;
  else {
    index = items.findIndex((t) => key(t) === sel.key);
    if (index < 0) {
      lost = true;
      index = Math.min(sel.index, n - 1);
    }
  }
  const maxStart = Math.max(0, n - visible);
  let start: number;
  if (mode === 'follow') start = sel.key === undefined ? maxStart : index - sel.offset;
  else start = index - Math.floor(visible / 2);
  start = Math.max(0, Math.min(start, maxStart));
  if (index < start) start = index;
  if (index >= start + visible) start = index - visible + 1;
  return { index, start, ...(lost ? { lost } : {}) };
}

/** The selection after moving by `delta` rows; a following log moved down onto its newest line follows again. */
export function move<T>(items: readonly T[], key: (t: T) => string, sel: Selection, visible: number, mode: 'centre' | 'follow', delta: number): Selection {
  const n = items.length;
  if (n === 0) return sel;
  const at = place(items, key, sel, visible, mode);
  const index = Math.max(0, Math.min(at.index + delta, n - 1));
  if (mode === 'follow' && index === n - 1) return { index, offset: Math.min(visible - 1, index) };
  let start = at.start;
  if (index < start) start = index;
  if (index >= start + visible) start = index - visible + 1;
  return { key: key(items[index]), index, offset: index - start };
}
