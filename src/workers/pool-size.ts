// How many workers the pool runs: --workers MIN:MAX, moved by SIGTTIN and
// SIGTTOU, and autoscaling between the bounds. It only decides (at each tick,
// from what the serving workers do); the arbiter spawns and retires.

import type { Slot } from './generation.js';

/** Ticks in a row with every serving channel busy before one more worker is started. */
export const SCALE_UP_TICKS = 3;

/** What the pool should do now, if anything. */
export type Scaling =
  /** Start `count` workers; `why` is the line to log (null: topping up to MIN, a respawn's business). */
  { kind: 'spawn'; count: number; why: string | null } | { kind: 'retire'; slot: Slot; reason: string } | null;

/** What the serving side looks like at a tick. */
export interface Load {
  /** The workers that count towards the pool's size (serving generation, not leaving, not a replacement). */
  live: Slot[];
  /** Channels of serving workers with nothing to do. */
  idleChannels: number;
  /** Requests waiting for a channel. */
  queued: number;
  /** A respawn waits out its crash backoff: no topping up meanwhile. */
  backingOff: boolean;
}

export class PoolSize {
  min: number;
  max: number;
  /** Consecutive ticks with no idle channel. */
  private saturated = 0;

  constructor(
    workers: number,
    maxWorkers: number,
    private readonly idleTimeout: number,
  ) {
    this.min = workers;
    this.max = Math.max(maxWorkers, workers);
  }

  /** SIGTTIN / SIGTTOU: one worker more or fewer (both bounds move; never below one). Returns the line to log. */
  scaleBy(delta: 1 | -1): string {
    if (delta < 0 && this.min <= 1) return 'SIGTTOU: already down to one worker';
    this.min += delta;
    this.max = Math.max(this.max + delta, this.min);
    const size = this.min === this.max ? `${this.min}` : `${this.min} to ${this.max}`;
    return `${delta > 0 ? 'SIGTTIN' : 'SIGTTOU'}: ${size} worker${this.max > 1 ? 's' : ''}`;
  }

  /** Saturation counts from zero again (a reload starts). */
  reset(): void {
    this.saturated = 0;
  }

  /**
   * Keep the pool between its bounds: up to MIN (unless a crash backoff runs),
   * one more while every serving channel stays busy (up to MAX, none booting),
   * and retire the worker idle longest past --idle-timeout (down to MIN).
   * Keeps each live worker's `idleSince`.
   */
  decide(load: Load, now: number): Scaling {
    const { live } = load;
    let booting = 0;
    for (const slot of live) {
      if (slot.worker.state === 'booting' || slot.warming)
        booting++; // warming up: not serving yet either
      else if (slot.worker.busy > 0 || slot.idleSince === 0) slot.idleSince = now;
    }
    if (live.length < this.min) return load.backingOff ? null : { kind: 'spawn', count: this.min - live.length, why: null };
    if (live.length > this.max) return { kind: 'retire', slot: idlest(live), reason: 'scaled down' };
    this.saturated = load.idleChannels === 0 ? this.saturated + 1 : 0;
    if (this.saturated >= SCALE_UP_TICKS && live.length < this.max && booting === 0) {
      this.saturated = 0;
      return {
        kind: 'spawn',
        count: 1,
        why: `scaling up to ${live.length + 1} workers: all ${live.length} busy, ${load.queued} requests queued`,
      };
    }
    if (live.length <= this.min) return null;
    const limit = this.idleTimeout * 1000;
    const idle = live.filter((s) => s.worker.state === 'ready' && !s.warming && s.worker.busy === 0 && now - s.idleSince >= limit);
    if (idle.length === 0) return null;
    return { kind: 'retire', slot: idlest(idle), reason: `idle for ${this.idleTimeout}s, scaling down to ${live.length - 1}` };
  }
}

/** The least busy, then the one idle longest. */
function idlest(candidates: Slot[]): Slot {
  let best = candidates[0]!;
  for (const s of candidates) {
    if (s.worker.busy < best.worker.busy || (s.worker.busy === best.worker.busy && s.idleSince < best.idleSince)) best = s;
  }
  return best;
}
