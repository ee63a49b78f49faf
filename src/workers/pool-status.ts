// What the pool is given (ArbiterOptions, ArbiterDeps) and what it reports:
// PoolStatus for `warpipe status` (the control socket), PoolCounts for --metrics.
// Types only; the Arbiter takes and fills them in (arbiter.ts exports them too).

import type { Clock } from './clock.js';
import type { DispatchOptions } from './dispatch.js';
import type { StatusRow } from './generation.js';
import type { WorkerOptions } from './python.js';
import type { Spawner } from './spawner.js';
import type { WarmupRequest } from './warmup.js';
import type { RecycleCause } from './recycling.js';

export interface ArbiterOptions extends WorkerOptions, DispatchOptions {
  /** Workers to run; with autoscaling, the fewest. */
  workers: number;
  /** The most workers autoscaling may run (= workers: a fixed pool). */
  maxWorkers: number;
  /** Seconds a worker may sit idle before autoscaling retires it (while more than `workers` run). */
  idleTimeout: number;
  /** Seconds a retiring worker (reload, recycling, scaling down) may take to finish what it runs before it is killed. */
  gracefulTimeout?: number;
  /** Seconds a worker may take to import the app. */
  bootTimeout: number;
  /** Seconds a request may run before its worker is killed and its client gets 504 (0: no limit). */
  timeout: number;
  /** Requests after which a worker is replaced (0: never), plus up to `maxRequestsJitter` more. */
  maxRequests: number;
  maxRequestsJitter: number;
  /** MiB of resident memory above which a worker is replaced (0: no limit). */
  maxRss: number;
  /** Seconds after which a worker is replaced (0: never). */
  maxLifetime: number;
  /** Import the app once per generation in a template process and fork the workers from it. */
  preload: boolean;
  /** --warmup: what every new worker answers before it serves (none: it serves once it says READY). */
  warmup?: readonly WarmupRequest[];
}

/** What the arbiter runs on; unit tests give fakes, the default is real processes and time. */
export interface ArbiterDeps {
  spawner?: Spawner;
  clock?: Clock;
}

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
