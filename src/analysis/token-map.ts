/**
 * Push token → device channel, learned from TokenUpdate check-ins (tokens only as hashes). It is how a push seen
 * on the way to APNs is tied to the device and channel it wakes.
 */
import type { WhoFields } from '../model/events.js';
import { RecentMap } from '../util/recent-map.js';

export interface TokenEntry {
  tokenHash: string;
  key: string;
  who: WhoFields;
  pushMagicHash?: string;
  /** The enrollment checked out: a push to it is recognised, but wakes nothing (servers still send them). */
  checkedOut?: boolean;
}

/** Tokens of checked-out enrollments remembered, so a later push is not taken for one to an unknown token. */
const MAX_RETIRED = 10_000;

export class TokenMap {
  private readonly byToken = new Map<string, TokenEntry>();
  private readonly byKey = new Map<string, string>();
  private readonly retired = new RecentMap<string, TokenEntry>(MAX_RETIRED);

  set(entry: TokenEntry): void {
    this.retired.delete(entry.tokenHash);
    const old = this.byKey.get(entry.key);
    if (old !== undefined && old !== entry.tokenHash) this.byToken.delete(old);
    const prevOwner = this.byToken.get(entry.tokenHash);
    if (prevOwner && prevOwner.key !== entry.key) this.byKey.delete(prevOwner.key);
    this.byToken.set(entry.tokenHash, entry);
    this.byKey.set(entry.key, entry.tokenHash);
  }

  lookup(tokenHash: string): TokenEntry | undefined {
    return this.byToken.get(tokenHash) ?? this.retired.get(tokenHash);
  }

  forKey(key: string): TokenEntry | undefined {
    const h = this.byKey.get(key);
    return h === undefined ? undefined : this.byToken.get(h);
  }

  /** A token whose enrollment checked out (restored from a capture): recognised, waking nothing. */
  retire(entry: TokenEntry): void {
    if (!this.byToken.has(entry.tokenHash)) this.retired.set(entry.tokenHash, { ...entry, checkedOut: true });
  }

  /** CheckOut: every channel of the enrollment forgets its token. */
  removeEnrollment(host: string | undefined, udid: string): void {
    for (const [key, hash] of this.byKey) {
      const e = this.byToken.get(hash);
      if (e && e.who.udid === udid && e.who.host === host) {
        this.byToken.delete(hash);
        this.byKey.delete(key);
        this.retired.set(hash, { ...e, checkedOut: true });
      }
    }
  }

  get size(): number {
    return this.byToken.size;
  }
}
