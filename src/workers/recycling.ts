// Recycling: which serving worker is due for a drain-first replacement
// (--max-requests plus its jitter, --max-lifetime, --max-rss), and the backoff
// once a replacement failed to start. It only decides; the arbiter replaces.

import type { Slot } from './generation.js';

export type RecycleCause = 'max_requests' | 'max_lifetime' | 'max_rss';

export interface RecyclingOptions {
  /** Requests after which a worker is replaced (0: never), plus up to `maxRequestsJitter` more. */
  maxRequests: number;
  maxRequestsJitter: number;
  /** Seconds after which a worker is replaced (0: never). */
  maxLifetime: number;
  /** MiB of resident memory above which a worker is replaced (0: no limit). */
  maxRss: number;
}

/** Memory is read this often (it costs a /proc read per worker). */
const RSS_EVERY_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export class Recycling {
  /** No replacement starts before this (clock ms): one failed to start. */
  private after = 0;
  /** Replacements in a row that failed to start. */
  private failures = 0;
  /** When memory was last read (clock ms). */
  private rssAt = 0;

  constructor(private readonly options: RecyclingOptions) {}

  /** How many requests a new worker serves before it is recycled (Infinity: no limit). */
  requestLimit(): number {
    const { maxRequests, maxRequestsJitter } = this.options;
    return maxRequests > 0 ? maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1)) : Infinity;
  }

  /**
   * The workers among `slots` due now, and why. `serving` says which take requests (only they are
   * recycled); with `paused` (a reload or a stop under way) none is.
   */
  due(
    slots: Iterable<Slot>,
    now: number,
    paused: boolean,
    serving: (slot: Slot) => boolean,
  ): { slot: Slot; cause: RecycleCause; reason: string }[] {
    const checkRss = this.options.maxRss > 0 && now - this.rssAt >= RSS_EVERY_MS;
    if (checkRss) this.rssAt = now;
    if (paused || now < this.after) return [];
    const due: { slot: Slot; cause: RecycleCause; reason: string }[] = [];
    for (const slot of slots) {
      if (slot.retiring !== null || slot.worker.state !== 'ready' || !serving(slot)) continue;
      const why = this.cause(slot, now, checkRss);
      if (why) due.push({ slot, ...why });
    }
    return due;
  }

  /** A replacement is ready: the backoff starts over. */
  replaced(): void {
    this.failures = 0;
  }

  /** A replacement died before it was ready: no recycling for 1 s, then 2 s, 4 s... Returns the delay. */
  failed(now: number): number {
    const delay = Math.min(1000 * 2 ** this.failures++, MAX_BACKOFF_MS);
    this.after = now + delay;
    return delay;
  }

  private cause(slot: Slot, now: number, checkRss: boolean): { cause: RecycleCause; reason: string } | null {
    const { maxRequests, maxLifetime, maxRss } = this.options;
    const w = slot.worker;
    if (w.served >= slot.requestLimit)
      return { cause: 'max_requests', reason: `served ${w.served} requests (--max-requests ${maxRequests})` };
    const age = now - slot.spawnedAt;
    if (maxLifetime > 0 && age >= maxLifetime * 1000) {
      return { cause: 'max_lifetime', reason: `running for ${Math.round(age / 1000)}s (--max-lifetime ${maxLifetime})` };
    }
    if (!checkRss) return null;
    const rss = w.rss();
    return rss > maxRss ? { cause: 'max_rss', reason: `resident memory ${rss.toFixed(1)} MiB (--max-rss ${maxRss})` } : null;
  }
}
