// The arbiter's clock: the time and the timers it runs on, injected so that
// unit tests drive it by hand (a fake clock) instead of waiting.
//
// One clock, monotonic: performance.now(). The channels time their requests
// and the dispatcher its queue on performance.now() too (read directly, on the
// hot path); the arbiter compares those times with its own, so a fake clock
// must stand in for performance.now() as well (the unit tests mock it).

import { performance } from 'node:perf_hooks';

/** Cancels a timer. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Call `fn` once, after `ms`. */
  after(ms: number, fn: () => void): Cancel;
  /** Call `fn` every `ms`, without keeping the process alive for it. */
  every(ms: number, fn: () => void): Cancel;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};
