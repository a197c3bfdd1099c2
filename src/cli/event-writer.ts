/**
 * Events as JSON lines on a stream, gathered into large writes, with backpressure: a replay producing events
 * faster than the reader takes them waits instead of piling them up in memory.
 */
import type { Writable } from 'node:stream';
import type { AnalyzerEvent } from '../model/events.js';

const BATCH = 256 * 1024;

export class EventWriter {
  private pending = '';
  private waiting: Promise<void> | undefined;

  constructor(private readonly out: Writable) {}

  write(ev: AnalyzerEvent): void {
    this.pending += JSON.stringify(ev) + '\n';
    if (this.pending.length >= BATCH) this.flush();
  }

  /** Writes what is gathered and resolves when the stream can take more. */
  async drained(): Promise<void> {
    this.flush();
    if (this.waiting) await this.waiting;
  }

  private flush(): void {
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    if (this.out.destroyed) return;
    if (!this.out.write(text) && !this.waiting) {
      this.waiting = new Promise<void>((resolve) => {
        const done = () => {
          this.out.off('drain', done);
          this.out.off('close', done);
          this.waiting = undefined;
          resolve();
        };
        this.out.once('drain', done);
        this.out.once('close', done);
      });
    }
  }
}
