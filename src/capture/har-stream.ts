/**
 * A HAR file read one entry at a time, whatever its size: a byte-level splitter finds each element of
 * `log.entries` (tracking only strings and nesting; string bodies are jumped over with native searches), and each
 * entry's text goes to the native JSON.parse. Memory holds one entry at a time; a 2 GB HAR never becomes one
 * string (V8 cannot make strings past ~512 MB at all).
 *
 * Written here rather than taken from a streaming JSON library: those emit a token or value event per JSON
 * element and run at 10–40 MB/s in JavaScript, where splitting plus native parsing of whole entries runs several
 * times faster and needs no dependency.
 */
import { createReadStream } from 'node:fs';
import { CaptureFormatError } from './errors.js';

/** An entry larger than this is refused (a string that long is near V8's limit anyway). */
const MAX_ENTRY = 256 * 1024 * 1024;
/** `log` fields other than `entries` (`_mdmtap`, `creator`, …) are kept only when this small. */
const MAX_LOG_FIELD = 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;

export interface HarStreamEvents {
  /** A field of `log` other than `entries`, parsed (only small ones). */
  onLogField?(name: string, value: unknown): void;
  /** Bytes consumed so far (for progress). */
  onBytes?(bytes: number): void;
}

/**
 * Yields the elements of `log.entries`, parsed, in file order: a batch per chunk read (one await per megabyte,
 * not per entry). Throws CaptureFormatError when the file is not a HAR (no `log.entries` array), is cut, or is
 * not JSON.
 */
export async function* harEntries(file: string, events: HarStreamEvents = {}): AsyncGenerator<unknown[]> {
  const split = new HarSplitter(events);
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  let bytes = 0;
  let index = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    const texts = split.write(chunk);
    const batch: unknown[] = new Array(texts.length);
    for (let i = 0; i < texts.length; i++) batch[i] = parseEntry(texts[i], ++index);
    events.onBytes?.(bytes);
    if (batch.length) yield batch;
  }
  split.end(file);
}

function parseEntry(text: string, index: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CaptureFormatError(`HAR entry ${index} is not valid JSON (${(e as Error).message})`);
  }
}

interface Frame {
  kind: 'object' | 'array';
  /** The key being read or whose value is open, in an object. */
  key?: string;
}

/**
 * The state machine: depth and string state carry across chunks. Keys are read only at the two levels whose
 * names matter (`log`, then `entries` and its siblings); everything deeper is walked through.
 */
class HarSplitter {
  entriesSeen = 0;
  private readonly stack: Frame[] = [];
  private inString = false;
  private escaped = false;
  /** A key or small value being read at the levels that matter. */
  private keyBytes: number[] | undefined;
  private expectKey = false;
  /** Chunks of the entry (or small log field) being collected, from its first byte. */
  private collecting: { kind: 'entry' | 'field'; name: string; depth: number; parts: Buffer[]; size: number } | undefined;
  private sawEntries = false;
  private done = false;

  constructor(private readonly events: HarStreamEvents) {}

  write(chunk: Buffer): string[] {
    const out: string[] = [];
    let i = 0;
    let collectFrom = 0;
    const n = chunk.length;
    const flushCollect = (to: number) => {
      const c = this.collecting!;
      const part = chunk.subarray(collectFrom, to);
      c.parts.push(part);
      c.size += part.length;
      if (c.kind === 'entry' && c.size > MAX_ENTRY) throw new CaptureFormatError(`HAR entry ${this.entriesSeen + 1} is larger than ${MAX_ENTRY / 1048576} MB`);
    };
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          // The previous chunk ended on a backslash: this byte is escaped.
          this.escaped = false;
          if (this.keyBytes) this.keyBytes.push(chunk[i]);
          i++;
          continue;
        }
        if (this.keyBytes) {
          // A key at a level that matters: short, read byte by byte.
          const c = chunk[i++];
          if (c === QUOTE) {
            this.inString = false;
            this.endKey();
          } else {
            this.keyBytes.push(c);
            if (c === BACKSLASH) this.escaped = true;
          }
          continue;
        }
        // Any other string (bodies, URLs, header values): jump to the next quote not escaped by an odd run of
        // backslashes.
        const q = chunk.indexOf(QUOTE, i);
        if (q === -1) {
          this.escaped = backslashesBefore(chunk, n, i) % 2 === 1;
          i = n;
          continue;
        }
        if (backslashesBefore(chunk, q, i) % 2 === 1) {
          i = q + 1;
          continue;
        }
        this.inString = false;
        i = q + 1;
        continue;
      }
      const c = chunk[i];
      switch (c) {
        case QUOTE:
          this.inString = true;
          if (this.readsKey()) this.keyBytes = [];
          break;
        case LBRACE:
        case LBRACKET: {
          const top = this.stack[this.stack.length - 1];
          if (this.atEntries() && !this.collecting) {
            // An element of log.entries starts: collect it from this byte.
            this.collecting = { kind: 'entry', name: '', depth: this.stack.length, parts: [], size: 0 };
            collectFrom = i;
          } else if (this.stack.length === 2 && top?.kind === 'object' && top.key !== undefined && top.key !== 'entries' && !this.collecting) {
            this.collecting = { kind: 'field', name: top.key, depth: this.stack.length, parts: [], size: 0 };
            collectFrom = i;
          }
          if (this.stack.length === 0 && c !== LBRACE) throw new CaptureFormatError('not a HAR file (the document is not a JSON object)');
          this.stack.push({ kind: c === LBRACE ? 'object' : 'array' });
          if (c === LBRACE) this.expectKey = true;
          if (this.stack.length === 3 && this.path(1) === 'log' && this.path(2) === 'entries') this.sawEntries = true;
          break;
        }
        case RBRACE:
        case RBRACKET: {
          const f = this.stack.pop();
          if (!f || (f.kind === 'object') !== (c === RBRACE)) throw new CaptureFormatError('not valid JSON (unbalanced brackets)');
          if (this.collecting && this.stack.length === this.collecting.depth) {
            flushCollect(i + 1);
            const text = Buffer.concat(this.collecting.parts).toString('utf8');
            const { kind, name } = this.collecting;
            this.collecting = undefined;
            if (kind === 'entry') {
              this.entriesSeen++;
              out.push(text);
            } else if (text.length <= MAX_LOG_FIELD) this.logField(name, text);
          }
          const parent = this.stack[this.stack.length - 1];
          if (parent?.kind === 'object') parent.key = undefined;
          if (this.stack.length === 0) this.done = true;
          break;
        }
        case COLON:
          this.expectKey = false;
          break;
        case 0x2c: // ','
          if (this.stack[this.stack.length - 1]?.kind === 'object') {
            this.expectKey = true;
            this.stack[this.stack.length - 1].key = undefined;
          }
          break;
        default:
          // Scalars and whitespace: nothing to track (a scalar log field is not needed).
          break;
      }
      i++;
    }
    if (this.collecting) flushCollect(n);
    return out;
  }

  end(file: string): void {
    if (this.inString || this.stack.length > 0 || !this.done) throw new CaptureFormatError(`${file} is cut or not valid JSON (it ends inside ${this.stack.length ? 'an open object' : 'a string'})`);
    if (!this.sawEntries) throw new CaptureFormatError(`${file} is not a HAR file (no log.entries array)`);
  }

  /** Keys are read only in the top object and in `log`. */
  private readsKey(): boolean {
    const top = this.stack[this.stack.length - 1];
    return this.expectKey && top?.kind === 'object' && (this.stack.length === 1 || (this.stack.length === 2 && this.path(1) === 'log'));
  }

  private endKey(): void {
    const top = this.stack[this.stack.length - 1];
    try {
      top.key = JSON.parse(`"${Buffer.from(this.keyBytes!).toString('utf8')}"`) as string;
    } catch {
      top.key = '';
    }
    this.keyBytes = undefined;
  }

  private atEntries(): boolean {
    return this.stack.length === 3 && this.stack[2].kind === 'array' && this.path(1) === 'log' && this.path(2) === 'entries';
  }

  /** The key under which the container at `depth` (1-based) sits. */
  private path(depth: number): string | undefined {
    return this.stack[depth - 1]?.key;
  }

  private logField(name: string, text: string): void {
    try {
      this.events.onLogField?.(name, JSON.parse(text));
    } catch {
      // A malformed side field is not worth failing the whole capture for.
    }
  }
}

/** How many backslashes come right before `at`, not looking before `floor`. */
function backslashesBefore(b: Buffer, at: number, floor: number): number {
  let k = 0;
  for (let j = at - 1; j >= floor && b[j] === BACKSLASH; j--) k++;
  return k;
}
