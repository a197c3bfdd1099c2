/**
 * The capture writer's thread. SQLite inserts of large bodies, and the redaction that decides whether a body
 * can be stored as it is, are real CPU work; here they never hold up the proxy's event loop, where a 20 ms
 * transaction would be 20 ms of latency for every device at once.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openCaptureStore, type StoreOptions } from './capture-store.js';
import type { FromWriter, ToWriter } from './writer-messages.js';
import { useTagKey } from '../mdm/hash.js';

// On Linux a priority set with pid 0 applies to the calling thread alone: the writer then gives way to the
// forwarding thread when both want the CPU, which is the order that matters to devices. (Elsewhere it would
// apply to the whole process, so it is left alone.)
if (process.platform === 'linux') {
  try {
    setPriority(0, 10);
  } catch {
    // not permitted: the writer just runs at normal priority
  }
}

const port = parentPort;
if (!port) throw new Error('writer-thread runs as a worker thread');
const { file, opts, tagKey } = workerData as { file: string; opts: Omit<StoreOptions, 'onError'>; tagKey?: Uint8Array };
// Tags the bodies stored here as the main thread tags what it shows (one key per run).
if (tagKey) useTagKey(tagKey);
const send = (m: FromWriter) => port.postMessage(m);

const store = openCaptureStore(file, { ...opts, onError: (error) => send({ type: 'error', error }) });
send({ type: 'ready', ok: store.ok, ...(store.ok ? { state: store.loadState() } : {}) });

port.on('message', (m: ToWriter) => {
  if (m.type === 'items') {
    for (const it of m.items) {
      if (it.kind === 'exchange') store.recordExchange(it.ex, it.msg, it.sessionId, it.dropBody);
      else if (it.kind === 'event') store.recordEvent(it.ev);
      else store.recordPush(it.p);
    }
    send({ type: 'received', bytes: m.bytes });
  } else if (m.type === 'close') {
    store.close();
    send({ type: 'closed' });
    port.close();
  }
});
