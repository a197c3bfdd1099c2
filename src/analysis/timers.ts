/**
 * Deadlines the analyzer must act on (session timeouts, push deadlines), in due order. A binary heap keeps a
 * fleet of 10,000 channels cheap; cancelled timers are dropped lazily when they surface.
 */
export interface Timer {
  due: number;
  /** Insertion order: timers due at the same instant fire in the order they were set, so replays are stable. */
  seq: number;
  cancelled: boolean;
  fire(): void;
}

export class TimerQueue {
  private heap: Timer[] = [];
  private seq = 0;

  add(due: number, fire: () => void): Timer {
    const t: Timer = { due, seq: this.seq++, cancelled: false, fire };
    this.heap.push(t);
    this.up(this.heap.length - 1);
    return t;
  }

  /** The next live timer due at or before `now`, removed from the queue. */
  popDue(now: number): Timer | undefined {
    for (;;) {
      const top = this.heap[0];
      if (!top) return undefined;
      if (top.cancelled) {
        this.pop();
        continue;
      }
      if (top.due > now) return undefined;
      return this.pop();
    }
  }

  private pop(): Timer {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private less(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
