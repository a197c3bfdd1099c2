/**
 * A copy of a body for analysis, taken beside forwarding: chunks are copied (never held back) up to the cap, and
 * anything beyond is only counted. A body that outgrows the cap is also run through a KeyScanner as it passes, so
 * its identifying keys (which Apple's sorted keys put after the big arrays) are known whatever was kept.
 */
import { EMPTY_BODY, type BodyScan } from '../capture/exchange.js';
import { KeyScanner } from '../plist/key-scan.js';
import type { Selection } from '../plist/value.js';

export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  private scanner?: KeyScanner;
  size = 0;

  constructor(
    private readonly cap: number,
    /** The keys to read from a body larger than the cap (none: a larger body is only counted). */
    private readonly scanFor?: Selection,
  ) {}

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.scanner) this.scanner.write(chunk);
    else if (this.scanFor && this.size > this.cap) {
      // The body just outgrew the cap: read it from its first byte on, the kept head included.
      this.scanner = new KeyScanner(this.scanFor);
      for (const c of this.chunks) this.scanner.write(c);
      this.scanner.write(chunk);
    }
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

  /** What the scanner read from the whole body, when it outgrew the cap. */
  scan(): BodyScan | undefined {
    return this.scanner?.end();
  }
}
