/**
 * Body copies that belong to one Exchange alone: the proxy made them (joined from the stream's chunks) and nothing
 * else refers to their memory. The capture writer may then move such a body to its thread instead of copying it
 * (a 1 MB copy is 1 MB more memory outside V8's heap, and that memory is what paces V8's full collections, each an
 * event-loop pause). Anything else — a chunk that is a slice of Node's read buffer, a caller's own buffer — is
 * copied: moving it would empty memory someone else still reads.
 */
const sole = new WeakSet<ArrayBufferLike>();

/** Smaller copies are not worth moving (a structured clone of them is cheap), so they are not marked. */
export const SOLE_COPY_FROM = 64 * 1024;

/** Over the size worth moving, and the whole of its memory (a moved buffer reads as empty: not whole-and-large). */
const movable = (bytes: Uint8Array) => bytes.byteLength > SOLE_COPY_FROM && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;

/** Marks a buffer the caller just allocated and hands over whole. */
export function soleCopy<B extends Uint8Array>(bytes: B): B {
  if (movable(bytes)) sole.add(bytes.buffer);
  return bytes;
}

/** Whether `bytes` is a whole buffer marked by soleCopy (and not yet moved). */
export function isSoleCopy(bytes: Uint8Array): boolean {
  return movable(bytes) && sole.has(bytes.buffer);
}

/** Consumers moving sole copies to another thread right now (running capture writers). */
let movers = 0;

/** A consumer that moves sole copies says so for as long as it does; the function returned ends that (idempotent). */
export function movingSoleCopies(): () => void {
  movers++;
  let on = true;
  return () => {
    if (on) {
      on = false;
      movers--;
    }
  };
}

/**
 * For a consumer that keeps a body past the call that handed it over: a sole copy may be moved to another thread
 * once that call returns, so the keeper gets bytes of its own. Any other body — and any body while nothing moves
 * them (no capture: `--no-db`) — is kept as it is.
 */
export function keptBody(bytes: Uint8Array): Uint8Array {
  return movers > 0 && isSoleCopy(bytes) ? Buffer.from(bytes) : bytes;
}
