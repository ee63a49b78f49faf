// What the pool reports: PoolStatus for `warpipe status` (the control socket),
// PoolCounts for --metrics. Types only; the Arbiter fills them in (arbiter.ts
// exports them too).

import type { StatusRow } from './generation.js';
import type { RecycleCause } from './recycling.js';

/** What `warpipe status` shows. */
export interface PoolStatus {
  generation: number;
  minWorkers: number;
  maxWorkers: number;
  queued: number;
  /** With --gateways N: each gateway's pid, by its number (1 to N). */
  gateways?: number[];
  /** Each process, and with --gateways N the number of the gateway that owns it. */
  workers: (StatusRow & { gateway?: number })[];
}

/** What the pool has done since it started (for --metrics). */
export interface PoolCounts {
  /** Worker processes started (first boot, respawns, replacements, reloads). */
  spawned: number;
  /** Workers that exited without being asked to (a crash, a kill from outside). */
  crashed: number;
  /** Workers killed for a request over --timeout. */
  timedOut: number;
  /** Drain-first replacements, by cause. */
  recycled: Record<RecycleCause, number>;
  reloads: number;
  /** Reloads rolled back: the new generation did not start, or failed its warm-up (the old one kept serving). */
  reloadsFailed: number;
  /** Workers whose --warmup failed (a 5xx, no answer): each counted as a failed boot. */
  warmupsFailed: number;
  /** Requests answered 503 because the queue was full or they waited past --queue-timeout. */
  queueRefused: number;
}

/** What --health reads of the pool (listeners/http-health.ts). */
export interface PoolHealth {
  /** new, booting, serving, reloading or stopping. */
  phase: string;
  /** Workers taking requests. */
  serving: number;
  /** Of those, the ones running a request now. */
  busy: number;
  /** Requests waiting for a worker. */
  queued: number;
  /** --backlog: the most that may wait. */
  backlog: number;
}
