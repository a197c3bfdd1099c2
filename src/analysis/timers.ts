/**
 * Deadlines the analyzer must act on (session timeouts, push deadlines), in due order. A binary heap keeps a
 * fleet of 10,000 channels cheap; cancelled timers are dropped lazily when they surface.
 */
import { MinHeap } from '../util/heap.js';

export interface Timer {
  due: number;
  /** Insertion order: timers due at the same instant fire in the order they were set, so replays are stable. */
  seq: number;
  cancelled: boolean;
  fire(): void;
}

export class TimerQueue {
  private readonly heap = new MinHeap<Timer>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));
  private seq = 0;

  add(due: number, fire: () => void): Timer {
    const t: Timer = { due, seq: this.seq++, cancelled: false, fire };
    this.heap.push(t);
    return t;
  }

  /** The next live timer due at or before `now`, removed from the queue. */
  popDue(now: number): Timer | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (!top) return undefined;
      if (top.cancelled) {
        this.heap.pop();
        continue;
      }
      if (top.due > now) return undefined;
      return this.heap.pop();
    }
  }
}
