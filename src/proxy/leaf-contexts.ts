/**
 * TLS contexts for the names mdmtap decrypts, issued on first use and kept in memory. The proxy asks only for
 * names it decrypts (decrypted-names.ts), so the set is small; the bound here is a second fence, not a policy.
 *
 * Issuing is asynchronous (the signature runs on the thread pool) and one at a time: a burst of new names then
 * costs the event loop one leaf's encoding per turn instead of all of them at once, so other connections never
 * wait behind it. Nothing is written to disk.
 */
import tls from 'node:tls';
import type { CertificateAuthority } from './ca.js';
import { RecentMap } from '../util/recent-map.js';

/** A leaf is re-issued this long before it expires (a proxy can run for a year). */
const RENEW_BEFORE_MS = 7 * 86_400_000;
export const DEFAULT_MAX_LEAVES = 1000;

interface Entry {
  context: Promise<tls.SecureContext>;
  /** Epoch ms from which the entry is re-issued; Infinity while its issuance runs. */
  renewAt: number;
}

export class LeafContexts {
  private readonly entries: RecentMap<string, Entry>;
  private queue: Promise<unknown> = Promise.resolve();
  /** Leaves signed so far. */
  issued = 0;

  constructor(
    private readonly ca: CertificateAuthority,
    max = DEFAULT_MAX_LEAVES,
    private readonly now: () => number = Date.now,
  ) {
    this.entries = new RecentMap(max);
  }

  /** The context for `name` (a DNS name or an IP address), issued if needed. */
  get(name: string): Promise<tls.SecureContext> {
    const key = name.toLowerCase();
    const hit = this.entries.get(key);
    if (hit && hit.renewAt > this.now()) {
      // Least recently used goes first: a hit is set again, which makes it recent.
      this.entries.set(key, hit);
      return hit.context;
    }
    const entry: Entry = { context: Promise.resolve(undefined as never), renewAt: Infinity };
    entry.context = this.queue.then(async () => {
      const leaf = await this.ca.issue(key);
      this.issued++;
      entry.renewAt = leaf.notAfter - RENEW_BEFORE_MS;
      return tls.createSecureContext({ cert: leaf.cert, key: leaf.key });
    });
    // A failed issuance is not kept: the next handshake for the name tries again.
    entry.context.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    this.queue = entry.context.catch(() => undefined);
    this.entries.set(key, entry);
    return entry.context;
  }

  get size(): number {
    return this.entries.size;
  }
}
