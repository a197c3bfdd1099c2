/**
 * A copy of a body for analysis, taken beside forwarding: chunks are copied (never held back) up to the cap, and
 * anything beyond is only counted.
 */
import { EMPTY_BODY } from '../capture/exchange.js';

export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  size = 0;

  constructor(private readonly cap: number) {}

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.kept >= this.cap) return;
    const take = Math.min(chunk.length, this.cap - this.kept);
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
}
