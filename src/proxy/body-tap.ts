/**
 * A copy of a body for analysis, taken beside forwarding: chunks are copied (never held back) up to the cap and as
 * long as the global copy budget allows, and anything beyond is only counted. The copy is a prefix: once a chunk
 * is refused, nothing later is kept, so a copy never has a hole.
 */
import { EMPTY_BODY } from '../capture/exchange.js';
import type { CopyBudget } from './copy-budget.js';

export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  private stopped = false;
  private released = false;
  size = 0;

  constructor(
    private readonly cap: number,
    private readonly budget?: CopyBudget,
  ) {}

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.stopped || this.kept >= this.cap) return;
    const take = Math.min(chunk.length, this.cap - this.kept);
    if (this.budget && !this.budget.take(take)) {
      this.stopped = true;
      return;
    }
    const part = take === chunk.length ? chunk : chunk.subarray(0, take);
    // Streams hand out fresh chunks, so keeping one is safe; but a small slice of a large read buffer would pin
    // all of it for as long as the exchange is kept, so that case is copied.
    this.chunks.push(part.buffer.byteLength > 2 * part.length + 4096 ? Buffer.from(part) : part);
    this.kept += take;
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  bytes(): Uint8Array {
    if (this.chunks.length === 0) return EMPTY_BODY;
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.kept);
  }

  /** The copy has left mdmtap's hands (handed to the analysis): its bytes go back to the budget. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget?.release(this.kept);
  }
}
