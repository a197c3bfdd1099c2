/**
 * The capture as `mdmtap start` writes it: the writer (writer.ts) runs in a worker thread, and the proxy's thread
 * only hands it plain objects, in one message per event-loop turn. Bodies in flight to the writer are bounded:
 * when the writer falls that far behind, exchanges go over without their bodies (flagged, metadata kept), so a
 * slow disk costs capture detail, never the proxy's memory or latency.
 */
import { Worker } from 'node:worker_threads';
import type { AnalyzerEvent } from '../model/events.js';
import type { Exchange } from '../model/exchange.js';
import type { MdmMessage, PushSeen } from '../model/message.js';
import type { RestoredState, StoreOptions } from './writer-messages.js';
import type { FromWriter, ToWriter, WriterItem } from './writer-messages.js';
import { isSoleCopy, movingSoleCopies, SOLE_COPY_FROM } from '../model/sole-copy.js';
import { currentTagKey } from '../mdm/hash.js';

export interface CaptureWriter {
  readonly file: string;
  /** What an existing capture held (tokens, open obligations, raised warnings), for the analyzer to resume. */
  readonly state: RestoredState;
  recordExchange(ex: Exchange, msg: MdmMessage | undefined, sessionId: string | undefined): void;
  recordEvent(ev: AnalyzerEvent): void;
  recordPush(p: PushSeen): void;
  /** Everything recorded so far is written and the file closed. */
  close(): Promise<void>;
}

/** Body bytes allowed in flight between the threads before bodies are dropped. */
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;
const EMPTY = new Uint8Array(0);
/**
 * Bodies above this size are transferred to the writer (the proxy's own copy as it is, anything else after one
 * memcpy into a buffer of its own). postMessage's structured clone serialises a body through a growing buffer:
 * measured up to 30 ms on the proxy's thread for a batch holding a few 1 MB bodies, against ~0.1 ms per MB for the
 * plain copy. The same size from which the proxy marks its copies movable (sole-copy.ts).
 */
const TRANSFER_FROM = SOLE_COPY_FROM;

/** Opens the capture in a writer thread; undefined when it cannot be opened (already reported through onError). */
export async function openCaptureWriter(
  file: string,
  opts: StoreOptions,
  tuning: { maxInFlightBytes?: number; /** Tests running from sources point at the built worker. */ workerUrl?: URL } = {},
): Promise<CaptureWriter | undefined> {
  const { onError, ...plain } = opts;
  const worker = new Worker(tuning.workerUrl ?? new URL('./writer-thread.js', import.meta.url), { workerData: { file, opts: plain, tagKey: currentTagKey() } });
  const maxInFlight = tuning.maxInFlightBytes ?? MAX_IN_FLIGHT_BYTES;
  let items: WriterItem[] = [];
  let transfer: ArrayBuffer[] = [];
  let bytes = 0;
  let inFlight = 0;
  let scheduled = false;
  let dead = false;
  let backlogReported = false;
  let closing: Promise<void> | undefined;
  let onClosed: (() => void) | undefined;
  /** Ends this writer's claim on the proxy's sole copies (sole-copy.ts): once it stops or dies it moves none. */
  let stopMoving = () => {};

  const ready = new Promise<FromWriter & { type: 'ready' }>((resolve) => {
    worker.on('message', (m: FromWriter) => {
      if (m.type === 'ready') resolve(m);
      else if (m.type === 'received') {
        inFlight -= m.bytes;
        if (inFlight < maxInFlight / 2) backlogReported = false;
      } else if (m.type === 'error') onError(m.error);
      else if (m.type === 'closed') onClosed?.();
    });
    worker.on('error', (e) => {
      dead = true;
      stopMoving();
      onError({ kind: 'store', message: `the capture writer stopped: ${e.message}; nothing more will be recorded` });
      resolve({ type: 'ready', ok: false });
      onClosed?.();
    });
    worker.on('exit', () => {
      dead = true;
      stopMoving();
      onClosed?.();
    });
  });
  const opened = await ready;
  if (!opened.ok) {
    await worker.terminate();
    return undefined;
  }
  if (!dead) stopMoving = movingSoleCopies();

  const post = () => {
    scheduled = false;
    if (dead || items.length === 0) return;
    const m: ToWriter = { type: 'items', items, bytes };
    inFlight += bytes;
    const moved = transfer;
    items = [];
    transfer = [];
    bytes = 0;
    worker.postMessage(m, moved);
  };
  /**
   * A large body in memory of its own, moved to the writer rather than serialised (see TRANSFER_FROM): the proxy's
   * own copy as it is (see sole-copy.ts; the exchange's body reads empty once posted), anything else copied first.
   */
  const owned = (body: Uint8Array): Uint8Array => {
    if (body.length <= TRANSFER_FROM) return body;
    if (isSoleCopy(body) && !transfer.includes(body.buffer as ArrayBuffer)) {
      transfer.push(body.buffer as ArrayBuffer);
      return body;
    }
    // Memory of its own (never from Node's pool, so it can be moved) and not zero-filled first: it is overwritten.
    const copy = Buffer.allocUnsafeSlow(body.length);
    copy.set(body);
    transfer.push(copy.buffer);
    return copy;
  };
  const add = (it: WriterItem, size = 0) => {
    if (dead || closing) return;
    items.push(it);
    bytes += size;
    if (!scheduled) {
      scheduled = true;
      setImmediate(post);
    }
  };

  return {
    file,
    state: opened.state ?? { tokens: [], obligations: [], warnings: [] },
    recordExchange(ex, msg, sessionId) {
      // Nothing more is posted: no body may be queued for a transfer that never happens (it would never be freed).
      if (dead || closing) return;
      const size = ex.requestBody.length + ex.responseBody.length;
      let dropBody = false;
      if (size > 0 && inFlight + bytes + size > maxInFlight) {
        dropBody = true;
        ex = { ...ex, requestBody: EMPTY, responseBody: EMPTY };
        if (!backlogReported) {
          backlogReported = true;
          onError({ kind: 'store-backlog', message: `the capture writer is ${Math.round((inFlight + bytes) / 1048576)} MB behind: bodies are being dropped (metadata is kept)` });
        }
      }
      if (!dropBody && size > TRANSFER_FROM) ex = { ...ex, requestBody: owned(ex.requestBody), responseBody: owned(ex.responseBody) };
      add({ kind: 'exchange', ex, ...(msg ? { msg } : {}), ...(sessionId ? { sessionId } : {}), ...(dropBody ? { dropBody } : {}) }, dropBody ? 0 : size);
    },
    recordEvent: (ev) => add({ kind: 'event', ev }),
    recordPush: (p) => add({ kind: 'push', p }),
    close() {
      // What is queued is posted below; nothing recorded from now on is moved.
      stopMoving();
      closing ??= new Promise<void>((resolve) => {
        if (dead) return resolve();
        onClosed = resolve;
        post();
        worker.postMessage({ type: 'close' } satisfies ToWriter);
      });
      return closing;
    },
  };
}
