// The arbiter: the process manager (spawn-fcgi's, php-fpm's pm and uWSGI's
// master's role). It spawns the workers and replaces the ones that die,
// backing off when they keep dying; it kills a worker whose request outlives
// --timeout, after making it print every thread's Python stack; it recycles
// workers (--max-requests, --max-rss, --max-lifetime) and reloads them
// (SIGHUP) drain-first: the replacements are ready before an old worker stops
// taking requests, and the old one finishes what it has. No request fails
// because of a recycle or a reload.
//
// Which channel runs a request is the Dispatcher's business; the arbiter only
// tells it which workers serve. Its timer runs the checks that need a clock,
// as gunicorn's arbiter loop does: murderWorkers, recycleWorkers, expire the
// queue, report overload.

import { WorkerError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { Channel, Exchange } from './channel.js';
import { systemClock, type Cancel, type Clock } from './clock.js';
import { Dispatcher, type DispatchOptions } from './dispatch.js';
import { exitText, type WorkerOptions } from './python.js';
import { processSpawner, type Spawner } from './spawner.js';
import type { Template, TemplateHooks } from './template.js';
import type { Worker, WorkerHooks } from './worker.js';

export interface ArbiterOptions extends WorkerOptions, DispatchOptions {
  /** Workers to run; with autoscaling, the fewest. */
  workers: number;
  /** The most workers autoscaling may run (= workers: a fixed pool). */
  maxWorkers: number;
  /** Seconds a worker may sit idle before autoscaling retires it (while more than `workers` run). */
  idleTimeout: number;
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
}

const TICK_MS = 100;
/** How long a timed-out worker has to print its stacks before SIGKILL. */
const KILL_GRACE_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const RSS_EVERY_MS = 1000;
/** Ticks in a row with every serving channel busy before one more worker is started. */
const SCALE_UP_TICKS = 3;

/** What `warpipe status` shows. */
export interface PoolStatus {
  generation: number;
  minWorkers: number;
  maxWorkers: number;
  queued: number;
  workers: {
    pid: number;
    generation: number;
    /** booting, serving, idle, retiring (why), stopping */
    state: string;
    served: number;
    rss: number;
    /** seconds since spawn */
    age: number;
    running: { request: string; seconds: number }[];
  }[];
}

interface Reload {
  generation: number;
  /** New workers not ready yet. */
  pending: number;
  timer: Cancel;
  /** Another reload was asked for meanwhile. */
  again: boolean;
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
  recycled: { max_requests: number; max_lifetime: number; max_rss: number };
  reloads: number;
  /** Requests answered 503 because the queue was full or they waited past --queue-timeout. */
  queueRefused: number;
}

/** The arbiter's bookkeeping for one worker (the process knows nothing of it). */
interface Slot {
  /** Which reload made it. */
  readonly generation: number;
  /** When it was spawned (clock ms). */
  readonly spawnedAt: number;
  /** It is recycled after this many requests (--max-requests plus its jitter; Infinity: never). */
  readonly requestLimit: number;
  /** Why it is leaving (max-requests, max-rss, max-lifetime, reload, timeout, ...), once it is. */
  retiring: string | null;
  /** When it is to be killed (clock ms; 0: not doomed). */
  killAt: number;
  /** Since when it has had no request (clock ms; kept by manageWorkers). */
  idleSince: number;
}

/** What the arbiter is given instead of real processes and time in unit tests. */
export interface ArbiterDeps {
  spawner?: Spawner;
  clock?: Clock;
}

/** --preload: a generation's template, and why it is leaving once it is. */
interface TemplateRecord {
  readonly process: Template;
  readonly generation: number;
  readonly spawnedAt: number;
  retiring: string | null;
}

/** The bookkeeping of a worker that is not ours (any more): never retiring, never doomed. */
const GONE: Slot = { generation: -1, spawnedAt: 0, requestLimit: Infinity, retiring: null, killAt: 0, idleSince: 0 };

export class Arbiter implements WorkerHooks, TemplateHooks {
  private readonly slots = new Map<Worker, Slot>();
  readonly dispatcher: Dispatcher;
  readonly counts: PoolCounts = { spawned: 0, crashed: 0, timedOut: 0, recycled: { max_requests: 0, max_lifetime: 0, max_rss: 0 }, reloads: 0, queueRefused: 0 };
  /** The newest generation started (a reload starts the next one). */
  private generation = 0;
  /** The generation that serves: respawns and replacements join it. */
  private servingGeneration = 0;
  private stopping = false;
  /** Deaths since a worker last finished a request: the respawn backoff. */
  private crashes = 0;
  private readonly respawnTimers = new Set<Cancel>();
  private readonly ticker: Cancel;
  /** Replacement being started -> the worker it will replace and why (recycling). */
  private readonly replacing = new Map<Worker, { old: Worker; reason: string }>();
  /** No recycling before this (clock ms): a replacement failed to start. */
  private recycleAfter = 0;
  private recycleFailures = 0;
  private reloading: Reload | null = null;
  private lastRssCheck = 0;
  /** The pool's bounds: --workers MIN:MAX, moved by SIGTTIN/SIGTTOU. */
  private min: number;
  private max: number;
  /** Consecutive ticks with no idle channel. */
  private saturatedTicks = 0;
  private started = false;
  private booting: ((err: WorkerError | null) => void) | null = null;
  private stopped: (() => void) | null = null;
  /** --preload: the template of each generation, workers waiting for theirs. */
  private readonly templates = new Map<number, TemplateRecord>();
  private readonly unforked = new Set<Worker>();
  private readonly spawner: Spawner;
  private readonly clock: Clock;

  constructor(readonly options: ArbiterOptions, private readonly log: Logger, deps: ArbiterDeps = {}) {
    this.dispatcher = new Dispatcher(options);
    this.spawner = deps.spawner ?? processSpawner(options, options.preload);
    this.clock = deps.clock ?? systemClock;
    this.min = options.workers;
    this.max = Math.max(options.maxWorkers, options.workers);
    this.ticker = this.clock.every(TICK_MS, () => this.tick());
  }

  /** The worker processes (templates aside). */
  get workers(): ReadonlySet<Worker> {
    return new Set(this.slots.keys());
  }

  private slot(w: Worker): Slot {
    return this.slots.get(w) ?? GONE;
  }

  /** Spawn every worker and wait until all are ready; on a boot failure, stop and throw it. */
  async start(): Promise<void> {
    await this.spawner.open();
    if (this.options.preload) this.spawnTemplate(0);
    let pending = this.options.workers;
    let failure: WorkerError | null = null;
    await new Promise<void>((resolve) => {
      const cancel = this.clock.after(this.options.bootTimeout * 1000, () => {
        failure ??= new WorkerError(codes.WORKER_BOOT, `workers were not ready within ${this.options.bootTimeout}s`);
        resolve();
      });
      this.booting = (err) => {
        if (err) failure ??= err;
        if (--pending === 0 || failure) {
          cancel();
          resolve();
        }
      };
      for (let i = 0; i < this.options.workers; i++) this.spawnWorker();
    });
    this.booting = null;
    if (failure) {
      await this.stop(0);
      throw failure;
    }
    this.started = true;
  }

  /** Every worker: pid, state, requests served, what it runs and for how long, memory. */
  status(): PoolStatus {
    const now = this.clock.now();
    const templates = [...this.templates.values()].map((t) => {
      const p = t.process;
      return { pid: p.pid, generation: t.generation, state: 'template', served: 0, rss: p.rss(), age: (now - t.spawnedAt) / 1000, running: [] };
    });
    const workers = [...this.slots].map(([w, slot]) => {
      const running: { request: string; seconds: number }[] = [];
      for (const ch of w.channels) {
        if (ch.exchange) running.push({ request: ch.exchange.describe(), seconds: ch.runningFor(now) / 1000 });
      }
      const state = slot.retiring !== null ? `retiring (${slot.retiring})`
        : w.state === 'booting' ? 'booting'
        : this.dispatcher.isServing(w) ? (w.busy > 0 ? 'busy' : 'idle')
        : w.state;
      return { pid: w.pid, generation: slot.generation, state, served: w.served, rss: w.rss(), age: (now - slot.spawnedAt) / 1000, running };
    });
    return { generation: this.servingGeneration, minWorkers: this.min, maxWorkers: this.max, queued: this.dispatcher.queued, workers: [...templates, ...workers] };
  }

  /** SIGTTIN / SIGTTOU: one worker more or fewer (both bounds move; never below one). */
  scaleBy(delta: 1 | -1): void {
    if (delta < 0 && this.min <= 1) {
      this.log.info('SIGTTOU: already down to one worker');
      return;
    }
    this.min += delta;
    this.max = Math.max(this.max + delta, this.min);
    this.log.info(`${delta > 0 ? 'SIGTTIN' : 'SIGTTOU'}: ${this.min === this.max ? `${this.min}` : `${this.min} to ${this.max}`} worker${this.max > 1 ? 's' : ''}`);
  }

  /** The workers that count towards the pool's size: not leaving, not a replacement or a reload still starting. */
  private liveWorkers(): Worker[] {
    const live: Worker[] = [];
    for (const [w, slot] of this.slots) {
      if (slot.retiring === null && w.state !== 'exited' && slot.generation === this.servingGeneration && !this.replacing.has(w)) live.push(w);
    }
    return live;
  }

  /** Run `exchange` on a worker (see Dispatcher). */
  submit(exchange: Exchange): void {
    this.dispatcher.submit(exchange);
  }

  /**
   * Graceful reload: start a whole new generation of workers (they import the
   * app's code afresh); once every one is ready, the old ones stop taking
   * requests, finish what they have and exit. If the new code fails to start,
   * the old workers go on serving.
   */
  reload(): void {
    if (this.stopping) return;
    if (this.reloading) {
      this.reloading.again = true;
      this.log.info('reload: one is under way; another follows it');
      return;
    }
    const generation = ++this.generation;
    this.counts.reloads++;
    const n = Math.min(Math.max(this.liveWorkers().length, this.min), this.max);
    this.log.info(`reload: starting ${n} new worker${n > 1 ? 's' : ''} (generation ${generation})`);
    if (this.options.preload) this.spawnTemplate(generation); // the new code is imported by a new template
    const timer = this.clock.after(this.options.bootTimeout * 1000, () =>
      this.reloadFailed(`the new workers were not ready within ${this.options.bootTimeout}s`),
    );
    this.reloading = { generation, pending: n, timer, again: false };
    this.saturatedTicks = 0;
    for (let i = 0; i < n; i++) this.spawnWorker(generation);
  }

  /** Drain: workers finish what they have, then exit; after `graceSeconds` they are killed. */
  async stop(graceSeconds: number): Promise<void> {
    this.stopping = true;
    this.ticker();
    for (const cancel of this.respawnTimers) cancel();
    this.reloading?.timer();
    this.dispatcher.failQueued(new WorkerError(codes.WORKER_DIED, 'the server is shutting down', 503));
    for (const t of this.templates.values()) t.process.stop();
    this.spawner.close();
    if (this.slots.size === 0) return;
    const done = new Promise<void>((resolve) => (this.stopped = resolve));
    for (const w of this.slots.keys()) {
      this.dispatcher.withdraw(w);
      w.stop();
    }
    const cancel = this.clock.after(graceSeconds * 1000, () => {
      for (const w of this.slots.keys()) {
        if (graceSeconds > 0) this.log.warning(`worker ${w.pid} still busy after ${graceSeconds}s, killing it`);
        w.kill('SIGKILL');
      }
    });
    await done;
    cancel();
  }

  private spawnWorker(generation = this.servingGeneration): Worker {
    const w = this.options.preload ? this.spawner.forked(this) : this.spawner.worker(this);
    this.counts.spawned++;
    const { maxRequests, maxRequestsJitter } = this.options;
    const requestLimit = maxRequests > 0 ? maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1)) : Infinity;
    this.slots.set(w, { generation, spawnedAt: this.clock.now(), requestLimit, retiring: null, killAt: 0, idleSince: 0 });
    if (this.options.preload) {
      const t = this.templates.get(generation)?.process;
      if (t?.state === 'ready') t.fork(w);
      else this.unforked.add(w); // forked once its template is ready
    } else {
      this.log.debug(`spawned worker ${w.pid} (generation ${generation})`);
    }
    return w;
  }

  /** --preload: the process that imports generation `generation`'s code and forks its workers. */
  private spawnTemplate(generation: number): void {
    const t = this.spawner.template(this);
    this.templates.set(generation, { process: t, generation, spawnedAt: this.clock.now(), retiring: null });
    this.log.debug(`spawned template ${t.pid} (generation ${generation})`);
  }

  private templateRecord(p: Template): TemplateRecord {
    for (const t of this.templates.values()) if (t.process === p) return t;
    return { process: p, generation: -1, spawnedAt: 0, retiring: 'gone' }; // not ours (cannot happen)
  }

  templateOnReady(p: Template): void {
    const t = this.templateRecord(p);
    this.log.info(`template ${p.pid} ready (python ${p.python || '?'}, generation ${t.generation}): workers are forked from it`);
    for (const w of [...this.unforked]) {
      if (this.slot(w).generation !== t.generation) continue;
      this.unforked.delete(w);
      p.fork(w);
    }
  }

  templateOnBootError(p: Template, err: WorkerError): void {
    if (this.booting) return this.booting(err);
    const t = this.templateRecord(p);
    if (this.reloading && t.generation === this.reloading.generation) return this.reloadFailed(`the new code does not start:\n${err.message}`);
    this.log.error(`template ${p.pid} failed to boot:\n${err.message}`);
  }

  templateOnBroken(p: Template, err: WorkerError): void {
    this.log.error(`template ${p.pid}: ${err.message}; killing it`);
    p.kill('SIGKILL');
  }

  templateOnExit(p: Template, code: number | null, signal: NodeJS.Signals | null): void {
    const t = this.templateRecord(p);
    if (this.templates.get(t.generation) === t) this.templates.delete(t.generation);
    const how = exitText(code, signal);
    if (this.booting) return this.booting(p.failure ?? new WorkerError(codes.WORKER_BOOT, `the template exited with ${how}`));
    if (this.reloading && t.generation === this.reloading.generation && t.retiring === null) {
      return this.reloadFailed(`the new template exited with ${how}${p.failure ? `:\n${p.failure.message}` : ''}`);
    }
    if (t.retiring !== null || this.stopping) {
      this.log.debug(`template ${p.pid} exited (${how})`);
      return;
    }
    // its workers go on serving; new ones need a template again
    this.crashes++;
    const delay = Math.min(100 * 2 ** Math.max(this.crashes - 1, 0), MAX_BACKOFF_MS);
    this.log.warning(`template ${p.pid} exited with ${how}; starting another in ${delay} ms`);
    const cancel = this.clock.after(delay, () => {
      this.respawnTimers.delete(cancel);
      if (!this.stopping && !this.templates.has(t.generation)) this.spawnTemplate(t.generation);
    });
    this.respawnTimers.add(cancel);
  }

  /** Stop giving `w` requests; it finishes what it has (and what was written ahead to it), then exits. */
  private retire(w: Worker, reason: string): void {
    const slot = this.slot(w);
    if (slot.retiring !== null || w.state === 'exited') return;
    slot.retiring = reason;
    this.dispatcher.withdraw(w);
    this.log.info(`worker ${w.pid} retiring (${reason}) after ${w.served} requests`);
    w.stop();
  }

  /** Replace `w` drain-first: it keeps serving until its replacement is ready. */
  private recycle(w: Worker, cause: keyof PoolCounts['recycled'], reason: string): void {
    if (this.beingReplaced(w)) return;
    this.counts.recycled[cause]++;
    this.log.info(`worker ${w.pid}: ${reason}; starting its replacement`);
    this.replacing.set(this.spawnWorker(), { old: w, reason });
  }

  private inReload(w: Worker): boolean {
    return this.reloading !== null && this.slot(w).generation === this.reloading.generation;
  }

  private beingReplaced(w: Worker): boolean {
    for (const { old } of this.replacing.values()) if (old === w) return true;
    return false;
  }

  private tick(): void {
    const now = this.clock.now();
    for (const w of this.slots.keys()) w.reap(); // forked workers whose template is gone
    this.murderWorkers(now);
    this.recycleWorkers(now);
    this.manageWorkers(now);
    this.dispatcher.expireQueue(now);
    const refused = this.dispatcher.takeRefused();
    this.counts.queueRefused += refused;
    if (refused > 0) {
      this.log.warning(`queue full: ${refused} request${refused > 1 ? 's' : ''} got 503 (${this.dispatcher.queued} waiting, --backlog ${this.options.backlog}, --queue-timeout ${this.options.queueTimeout}s)`);
    }
  }

  /** Requests running past --timeout: 504 to their client, a stack dump, then SIGKILL. */
  private murderWorkers(now: number): void {
    const limit = this.options.timeout * 1000;
    for (const [w, slot] of this.slots) {
      if (slot.killAt !== 0) {
        if (now >= slot.killAt) w.kill('SIGKILL');
        continue;
      }
      if (w.state === 'booting') {
        // start() and reload() have their own deadline; a respawn or a replacement gets this one
        if (!this.booting && now - slot.spawnedAt > this.options.bootTimeout * 1000 && !this.inReload(w)) {
          this.log.error(`worker ${w.pid} did not start within ${this.options.bootTimeout}s (--boot-timeout); killing it`);
          slot.killAt = now;
          w.kill('SIGKILL');
        }
        continue;
      }
      if (limit <= 0) continue;
      for (const ch of w.channels) {
        const ran = ch.runningFor(now);
        if (ran > limit) {
          this.timeOut(w, ch, ran / 1000, now);
          break;
        }
      }
    }
  }

  private timeOut(w: Worker, ch: Channel, seconds: number, now: number): void {
    const slot = this.slot(w);
    const what = ch.exchange!.describe();
    this.log.error(
      `worker ${w.pid} timed out after ${seconds.toFixed(1)}s handling ${what} (--timeout ${this.options.timeout}); ` +
        `killing it, its Python stacks follow`,
    );
    ch.expire(new WorkerError(codes.WORKER_TIMEOUT, `${what} timed out after ${seconds.toFixed(1)}s`, 504));
    this.counts.timedOut++;
    const replaced = slot.retiring !== null || this.beingReplaced(w);
    slot.retiring ??= 'timeout';
    this.dispatcher.withdraw(w);
    slot.killAt = now + KILL_GRACE_MS;
    w.kill('SIGUSR1'); // the worker's faulthandler prints every thread's stack to stderr
    if (!replaced && !this.stopping) this.spawnWorker();
  }

  private recycleWorkers(now: number): void {
    const { maxLifetime, maxRss } = this.options;
    const checkRss = maxRss > 0 && now - this.lastRssCheck >= RSS_EVERY_MS;
    if (checkRss) this.lastRssCheck = now;
    if (this.stopping || this.reloading || now < this.recycleAfter) return;
    for (const [w, slot] of this.slots) {
      if (slot.retiring !== null || w.state !== 'ready' || !this.dispatcher.isServing(w)) continue;
      if (w.served >= slot.requestLimit) {
        this.recycle(w, 'max_requests', `served ${w.served} requests (--max-requests ${this.options.maxRequests})`);
      } else if (maxLifetime > 0 && now - slot.spawnedAt >= maxLifetime * 1000) {
        this.recycle(w, 'max_lifetime', `running for ${Math.round((now - slot.spawnedAt) / 1000)}s (--max-lifetime ${maxLifetime})`);
      } else if (checkRss) {
        const rss = w.rss();
        if (rss > maxRss) this.recycle(w, 'max_rss', `resident memory ${rss.toFixed(1)} MiB (--max-rss ${maxRss})`);
      }
    }
  }

  /**
   * Keep the pool between its bounds: spawn up to MIN (unless a crash backoff
   * is running), one more while every serving channel stays busy (up to MAX),
   * and retire the worker idle longest past --idle-timeout (down to MIN).
   */
  private manageWorkers(now: number): void {
    if (!this.started || this.stopping || this.reloading) return;
    const live = this.liveWorkers();
    let booting = 0;
    for (const w of live) {
      const slot = this.slot(w);
      if (w.state === 'booting') booting++;
      else if (w.busy > 0 || slot.idleSince === 0) slot.idleSince = now;
    }
    if (live.length < this.min) {
      if (this.respawnTimers.size === 0) {
        for (let i = live.length; i < this.min; i++) this.spawnWorker();
      }
      return;
    }
    if (live.length > this.max) return this.retireIdlest(live, 'scaled down');
    this.saturatedTicks = this.dispatcher.idleChannels === 0 ? this.saturatedTicks + 1 : 0;
    if (this.saturatedTicks >= SCALE_UP_TICKS && live.length < this.max && booting === 0) {
      this.saturatedTicks = 0;
      this.log.info(`scaling up to ${live.length + 1} workers: all ${live.length} busy, ${this.dispatcher.queued} requests queued`);
      this.spawnWorker();
      return;
    }
    if (live.length > this.min) {
      const limit = this.options.idleTimeout * 1000;
      const idle = live.filter((w) => w.state === 'ready' && w.busy === 0 && now - this.slot(w).idleSince >= limit);
      if (idle.length > 0) this.retireIdlest(idle, `idle for ${this.options.idleTimeout}s, scaling down to ${live.length - 1}`);
    }
  }

  private retireIdlest(candidates: Worker[], reason: string): void {
    let best = candidates[0]!;
    for (const w of candidates) if (w.busy < best.busy || (w.busy === best.busy && this.slot(w).idleSince < this.slot(best).idleSince)) best = w;
    this.retire(best, reason);
  }

  private finishReload(r: Reload): void {
    r.timer();
    this.reloading = null;
    this.servingGeneration = r.generation;
    this.replacing.clear(); // recycling replacements were of the old generation: they retire with it
    for (const [generation, t] of this.templates) {
      if (generation >= r.generation) continue;
      t.retiring = 'reload';
      t.process.stop();
    }
    for (const [w, slot] of this.slots) if (slot.generation === r.generation && w.state === 'ready') this.dispatcher.serve(w);
    for (const [w, slot] of [...this.slots]) if (slot.generation < r.generation) this.retire(w, 'reload');
    this.log.info(`reload: generation ${r.generation} serving`);
    if (r.again) this.reload();
  }

  private reloadFailed(why: string): void {
    const r = this.reloading;
    if (!r) return;
    r.timer();
    this.reloading = null;
    this.log.error(`reload failed, the old workers keep serving: ${why}`);
    const t = this.templates.get(r.generation);
    if (t) {
      t.retiring = 'failed reload';
      t.process.kill('SIGKILL');
    }
    for (const [w, slot] of this.slots) {
      if (slot.generation === r.generation) {
        slot.retiring = 'failed reload';
        w.kill('SIGKILL');
      }
    }
  }

  // --- hooks from Worker ---

  workerOnReady(w: Worker): void {
    const slot = this.slot(w);
    this.log.info(`worker ${w.pid} ready (python ${w.python || '?'}, ${w.channels.length} thread${w.channels.length > 1 ? 's' : ''}, generation ${slot.generation})`);
    this.booting?.(null);
    if (this.stopping || slot.retiring !== null) {
      w.stop();
      return;
    }
    const r = this.reloading;
    if (r && slot.generation === r.generation) {
      if (--r.pending === 0) this.finishReload(r);
      return; // serves once the whole new generation is ready
    }
    if (slot.generation < this.servingGeneration) {
      this.retire(w, 'reload'); // a respawn of the old generation that a reload overtook
      return;
    }
    this.dispatcher.serve(w);
    const replaced = this.replacing.get(w);
    if (replaced) {
      this.replacing.delete(w);
      this.recycleFailures = 0;
      this.retire(replaced.old, replaced.reason);
    }
  }

  workerOnBootError(w: Worker, err: WorkerError): void {
    if (this.booting) return this.booting(err);
    if (this.inReload(w)) return this.reloadFailed(`the new code does not start:\n${err.message}`);
    this.log.error(`worker ${w.pid} failed to boot:\n${err.message}`);
  }

  workerOnBroken(w: Worker, err: WorkerError): void {
    this.log.error(`worker ${w.pid}: ${err.message}; killing it`);
    this.dispatcher.withdraw(w);
    w.kill('SIGKILL');
  }

  workerOnExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const slot = this.slot(w);
    this.slots.delete(w);
    this.dispatcher.withdraw(w);
    this.unforked.delete(w);
    const how = exitText(code, signal);
    if (this.booting) {
      this.booting(w.failure ?? null);
      return;
    }
    if (this.stopping) {
      this.log.debug(`worker ${w.pid} exited`);
      if (this.slots.size === 0) this.stopped?.();
      return;
    }
    const old = this.replacing.get(w)?.old;
    if (old) {
      // a replacement died before it was ready: the old worker keeps serving; try again later
      this.replacing.delete(w);
      this.counts.crashed++;
      const delay = Math.min(1000 * 2 ** this.recycleFailures++, MAX_BACKOFF_MS);
      this.recycleAfter = this.clock.now() + delay;
      this.log.error(`worker ${w.pid}, replacing ${old.pid}, exited with ${how} before it was ready; worker ${old.pid} keeps serving, next attempt in ${delay / 1000}s`);
      return;
    }
    if (this.reloading && slot.generation === this.reloading.generation && w.state !== 'ready') {
      this.reloadFailed(`worker ${w.pid} of the new generation exited with ${how} before it was ready${w.failure ? `:\n${w.failure.message}` : ''}`);
      return;
    }
    if (slot.retiring !== null) {
      this.log.info(`worker ${w.pid} exited (${how}) after retiring (${slot.retiring})`);
      return;
    }
    if (this.beingReplaced(w)) {
      this.counts.crashed++;
      this.log.warning(`worker ${w.pid} exited with ${how} while its replacement starts`);
      return;
    }
    this.crashes++;
    this.counts.crashed++;
    const delay = this.crashes <= 1 ? 0 : Math.min(100 * 2 ** (this.crashes - 2), MAX_BACKOFF_MS);
    this.log.warning(`worker ${w.pid} exited with ${how}; respawning${delay ? ` in ${delay} ms` : ''}`);
    if (delay === 0) this.spawnWorker();
    else {
      const cancel = this.clock.after(delay, () => {
        this.respawnTimers.delete(cancel);
        if (!this.stopping) this.spawnWorker();
      });
      this.respawnTimers.add(cancel);
    }
  }

  channelOnFree(w: Worker, ch: Channel): void {
    if (w.busy === 0 && w.state === 'ready') this.crashes = 0;
    this.dispatcher.channelOnFree(w, ch);
  }

  channelOnAdvance(w: Worker, ch: Channel): void {
    this.dispatcher.channelOnAdvance(w, ch);
  }

  channelOnOrphan(_w: Worker, ex: Exchange): void {
    this.dispatcher.channelOnOrphan(ex);
  }
}
