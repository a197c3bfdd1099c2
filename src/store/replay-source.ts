/**
 * SQLite captures for `mdmtap analyze`: the stored exchanges go through the same classification as live traffic.
 * Stored bodies are redacted; the push-token and PushMagic hashes kept beside each check-in come back as the
 * exchange's `redactedFacts`, so the analyzer maps pushes exactly as it did live.
 */
import { CaptureFormatError } from '../capture/har.js';
import type { LoadedCapture } from '../capture/load.js';
import { classify } from '../mdm/classify.js';
import type { MdmMessage } from '../mdm/message.js';
import { NotACaptureError, openCaptureReadonly } from './reader.js';
import { latest } from '../util/latest.js';

export async function readCaptureForAnalysis(file: string): Promise<LoadedCapture> {
  let reader;
  try {
    reader = openCaptureReadonly(file);
  } catch (e) {
    if (e instanceof NotACaptureError) throw new CaptureFormatError(`${file}: ${e.message}`);
    throw e;
  }
  try {
    const messages: MdmMessage[] = [];
    let exchanges = 0;
    let lastExchange: number | undefined;
    for (const ex of reader.exchanges()) {
      exchanges++;
      lastExchange = latest([lastExchange, ex.endedAt]);
      // Live, every decrypted exchange is MDM traffic by definition; the replay must judge it the same way.
      const msg = classify(ex, { assumeMdm: true });
      if (msg) messages.push(msg);
    }
    const pushes = reader.pushes();
    const lastTs = latest([lastExchange, ...pushes.map((p) => p.ts), reader.observedUntil()]);
    return { format: 'sqlite', messages, pushes, exchanges, recorded: reader.recordedTiming(), ...(lastTs !== undefined ? { lastTs } : {}) };
  } finally {
    reader.close();
  }
}
