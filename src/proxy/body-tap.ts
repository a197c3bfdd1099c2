/**
 * A copy of a body for analysis, taken beside forwarding: chunks are copied (never held back) up to the cap and as
 * long as the global copy budget allows, and anything beyond is only counted. The copy is a prefix: once a chunk
 * is refused, nothing later is kept, so a copy never has a hole. A body whose copy stops short (cap or budget) is
 * also run through a KeyScanner as it passes, so its identifying keys (which Apple's sorted keys put after the
 * big arrays) are known whatever was kept. What the scanner holds (a binary plist's last megabytes) is taken from
 * the same budget as the copies: past it, the scan is given up and says so.
 */
import { EMPTY_BODY, type BodyScan } from '../model/exchange.js';
import { KeyScanner } from '../plist/key-scan.js';
import type { Selection } from '../plist/value.js';
import type { CopyBudget } from './copy-budget.js';
import { soleCopy } from '../model/sole-copy.js';

export class BodyTap {
  private chunks: Buffer[] = [];
  private kept = 0;
  private stopped = false;
  private released = false;
  private scanner?: KeyScanner;
  /** Bytes the scanner holds, as charged to the budget; -1 once the scan was given up for the budget. */
  private scanHeld = 0;
  size = 0;

  constructor(
    private readonly cap: number,
    private readonly budget?: CopyBudget,
    /** The keys to read from a body that is not kept whole (none: the rest is only counted). */
    private readonly scanFor?: Selection,
  ) {}

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.scanner) {
      this.scanner.write(chunk);
      this.chargeScan();
    }
    let keep = this.stopped || this.kept >= this.cap ? 0 : Math.min(chunk.length, this.cap - this.kept);
    if (keep > 0 && this.budget && !this.budget.take(keep)) {
      this.stopped = true;
      keep = 0;
    }
    if (keep > 0) {
      const part = keep === chunk.length ? chunk : chunk.subarray(0, keep);
      // Streams hand out fresh chunks, so keeping one is safe; but a small slice of a large read buffer would pin
      // all of it for as long as the exchange is kept, so that case is copied.
      this.chunks.push(part.buffer.byteLength > 2 * part.length + 4096 ? Buffer.from(part) : part);
      this.kept += keep;
    }
    if (!this.scanner && this.scanHeld === 0 && this.scanFor && this.size > this.kept) {
      // The copy just fell short of the body: read the body from its first byte on, the kept head included.
      this.scanner = new KeyScanner(this.scanFor);
      for (const c of this.chunks) this.scanner.write(c);
      this.scanner.write(chunk.subarray(keep));
      this.chargeScan();
    }
  }

  private chargeScan(): void {
    const held = this.scanner!.held;
    if (held > this.scanHeld) {
      if (this.budget && !this.budget.take(held - this.scanHeld)) {
        this.budget.release(this.scanHeld);
        this.scanner = undefined;
        this.scanHeld = -1;
        return;
      }
    } else if (held < this.scanHeld) this.budget?.release(this.scanHeld - held);
    this.scanHeld = held;
  }

  get truncated(): boolean {
    return this.size > this.kept;
  }

  bytes(): Uint8Array {
    if (this.chunks.length === 0) return EMPTY_BODY;
    if (this.chunks.length === 1) return this.chunks[0];
    // A join of any size that matters has memory of its own (small ones share Node's pool, and stay unmarked): the
    // capture writer may move it instead of copying it again.
    return soleCopy(Buffer.concat(this.chunks, this.kept));
  }

  /** What the scanner read from the whole body, when the copy fell short of it. */
  scan(): BodyScan | undefined {
    if (this.scanHeld === -1) return { problem: 'not read: --body-budget was reached while it passed' };
    return this.scanner?.end();
  }

  /** The copy has left mdmtap's hands (handed to the analysis): its bytes go back to the budget. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget?.release(this.kept + Math.max(0, this.scanHeld));
  }
}
