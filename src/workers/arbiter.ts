// The arbiter: the process manager (spawn-fcgi's, php-fpm's pm and uWSGI's
// master's role). It spawns the workers and replaces the ones that die,
// backing off when they keep dying; it kills a worker whose request outlives
// --timeout, after making it print every thread's Python stack; it recycles
// workers (--max-requests, --max-rss, --max-lifetime) and reloads them
// (SIGHUP) drain-first: the replacements are ready before an old worker stops
// taking requests, and the old one finishes what it has. No request fails
// because of a recycle or a reload.
//
// The pool is in one phase at a time (`Phase`): booting generation 0, serving,
// reloading (a new generation starts beside the serving one), stopping. Each
// worker belongs to a Generation, which keeps the arbiter's bookkeeping for it
// (a Slot); the processes know none of it. Processes come from a Spawner and
// time from a Clock, both injected, so unit tests run it with fakes.
//
// Which channel runs a request is the Dispatcher's business; the arbiter only
// tells it which workers serve. Its tick runs the checks that need a clock, as
// gunicorn's arbiter loop does: reap, murderWorkers, recycleWorkers,
// manageWorkers, expireQueue.

import { WorkerError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { Channel, Exchange } from './channel.js';
import { systemClock, type Cancel, type Clock } from './clock.js';
import { Dispatcher } from './dispatch.js';
import { Generation, type Slot } from './generation.js';
import { PoolSize } from './pool-size.js';
import type { ArbiterDeps, ArbiterOptions, PoolCounts, PoolHealth, PoolStatus } from './pool-status.js';
import { Recycling, type RecycleCause } from './recycling.js';
import { exitText } from './python.js';
import { processSpawner, type Spawner } from './spawner.js';
import type { Template, TemplateHooks } from './template.js';
import { warmUp, type WarmupRequest } from './warmup.js';
import type { Worker, WorkerHooks } from './worker.js';

export type { ArbiterDeps, ArbiterOptions, PoolCounts, PoolHealth, PoolStatus };

const TICK_MS = 100;
/** How long a timed-out worker has to print its stacks before SIGKILL. */
const KILL_GRACE_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/**
 * Where the pool is. Booting and reloading each wait for a generation to be
 * ready (every worker of it said READY) before `deadline` (--boot-timeout).
 */
type Phase =
  /** Not started yet. */
  | { kind: 'new' }
  /** start(): generation 0 starts; each worker serves once it is ready. `settle` ends start(). */
  | { kind: 'booting'; generation: Generation; deadline: Cancel; settle: (failure: WorkerError | null) => void; reloadAfter: boolean }
  | { kind: 'serving' }
  /** A new generation starts beside the serving one, and takes over once all of it is ready. */
  | { kind: 'reloading'; generation: Generation; deadline: Cancel; again: boolean }
  /** stop(): every worker drains; `done` resolves once the last one is gone. */
  | { kind: 'stopping'; done: Promise<void>; drained: () => void };

export class Arbiter implements WorkerHooks, TemplateHooks {
  readonly dispatcher: Dispatcher;
  readonly counts: PoolCounts = {
    spawned: 0,
    crashed: 0,
    timedOut: 0,
    recycled: { max_requests: 0, max_lifetime: 0, max_rss: 0 },
    reloads: 0,
    reloadsFailed: 0,
    warmupsFailed: 0,
    queueRefused: 0,
  };
  private phase: Phase = { kind: 'new' };
  /** The generation that serves: respawns, replacements and new workers join it. */
  private current = new Generation(0);
  /** Every generation with a process left, oldest first; the current one always. */
  private generations: Generation[] = [this.current];
  /** Deaths since a worker last finished a request: the respawn backoff. */
  private crashes = 0;
  /** Respawns (of workers or templates) waiting out their backoff. */
  private readonly respawns = new Set<Cancel>();
  /** --max-requests, --max-lifetime, --max-rss: who is due, and the backoff after a failed replacement. */
  private readonly recycling: Recycling;
  /** --workers MIN:MAX, SIGTTIN/SIGTTOU, autoscaling. */
  private readonly size: PoolSize;
  private readonly stopTicking: Cancel;
  private readonly spawner: Spawner;
  private readonly clock: Clock;

  constructor(
    readonly options: ArbiterOptions,
    private readonly log: Logger,
    deps: ArbiterDeps = {},
  ) {
    this.dispatcher = new Dispatcher(options);
    this.spawner = deps.spawner ?? processSpawner(options, options.preload);
    this.clock = deps.clock ?? systemClock;
    this.size = new PoolSize(options.workers, options.maxWorkers, options.idleTimeout);
    this.recycling = new Recycling(options);
    this.stopTicking = this.clock.every(TICK_MS, () => this.tick());
  }

  /** The worker processes (templates aside). */
  get workers(): ReadonlySet<Worker> {
    const all = new Set<Worker>();
    for (const g of this.generations) for (const w of g.slots.keys()) all.add(w);
    return all;
  }

  /** Spawn every worker and wait until all are ready; on a boot failure, stop and throw it. */
  async start(): Promise<void> {
    await this.spawner.open();
    const generation = this.current;
    const failure = await new Promise<WorkerError | null>((settle) => {
      const { bootTimeout } = this.options;
      const deadline = this.clock.after(bootTimeout * 1000, () =>
        this.bootFailed(new WorkerError(codes.WORKER_BOOT, `workers were not ready within ${bootTimeout}s${generation.stillWarming()}`)),
      );
      this.phase = { kind: 'booting', generation, deadline, settle, reloadAfter: false };
      if (this.options.preload) this.spawnTemplate(generation);
      for (let i = 0; i < this.options.workers; i++) this.spawnWorker();
    });
    if (failure) {
      await this.stop(0);
      throw failure;
    }
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
    const phase = this.phase;
    if (phase.kind === 'new' || phase.kind === 'stopping') return;
    if (phase.kind === 'booting') {
      phase.reloadAfter = true;
      this.log.info('reload: the pool is still starting; it reloads once it serves');
      return;
    }
    if (phase.kind === 'reloading') {
      phase.again = true;
      this.log.info('reload: one is under way; another follows it');
      return;
    }
    const { bootTimeout, preload } = this.options;
    const generation = new Generation(++this.counts.reloads); // the Nth reload starts generation N
    this.generations.push(generation);
    const n = Math.min(Math.max(this.liveSlots().length, this.size.min), this.size.max);
    this.log.info(`reload: starting ${n} new worker${n > 1 ? 's' : ''} (generation ${generation.number})`);
    const deadline = this.clock.after(bootTimeout * 1000, () =>
      this.reloadFailed(`the new workers were not ready within ${bootTimeout}s${generation.stillWarming()}`),
    );
    this.phase = { kind: 'reloading', generation, deadline, again: false };
    this.size.reset();
    if (preload) this.spawnTemplate(generation); // the new code is imported by a new template
    for (let i = 0; i < n; i++) this.spawnWorker(generation);
  }

  /** Drain: workers finish what they have, then exit; after `graceSeconds` they are killed. */
  stop(graceSeconds: number): Promise<void> {
    const was = this.phase;
    if (was.kind === 'stopping') return was.done;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    let grace: Cancel = () => {};
    const drained = (): void => {
      grace();
      this.stopTicking();
      resolve();
    };
    this.phase = { kind: 'stopping', done, drained };
    if (was.kind === 'booting' || was.kind === 'reloading') was.deadline();
    if (was.kind === 'booting') was.settle(null); // stopped while it started: start() returns
    // the tick goes on while the workers drain, reaping and killing what is due: under --preload the templates exit
    // at once, and a forked worker still exiting when its template went is seen gone only there
    for (const cancel of this.respawns) cancel();
    this.dispatcher.failQueued(new WorkerError(codes.WORKER_DIED, 'the server is shutting down', 503));
    for (const g of this.generations) g.template?.stop();
    this.spawner.close();
    const workers = this.workers;
    if (workers.size === 0) drained();
    for (const w of workers) {
      this.dispatcher.withdraw(w);
      w.stop();
    }
    if (workers.size > 0) grace = this.clock.after(graceSeconds * 1000, () => this.killAll(graceSeconds));
    // --preload: a stand-in its template never forked runs nothing, and the template is stopping
    for (const g of this.generations) for (const slot of g.unforked) slot.worker.kill('SIGKILL');
    return done;
  }

  /** The grace period is over: whatever still runs is killed. */
  private killAll(graceSeconds: number): void {
    for (const w of this.workers) {
      if (graceSeconds > 0) this.log.warning(`worker ${w.pid} still busy after ${graceSeconds}s, killing it`);
      w.kill('SIGKILL');
    }
  }

  /** SIGTTIN / SIGTTOU: one worker more or fewer (both bounds move; never below one). */
  scaleBy(delta: 1 | -1): void {
    this.log.info(this.size.scaleBy(delta));
  }

  /** Every process: pid, state, requests served, what it runs and for how long, memory. */
  status(): PoolStatus {
    const now = this.clock.now();
    const rows: PoolStatus['workers'] = [];
    for (const g of this.generations) if (g.template) rows.push(g.templateRow(now));
    for (const g of this.generations) rows.push(...g.workerRows(now, (w) => this.dispatcher.isServing(w)));
    const { min, max } = this.size;
    return { generation: this.current.number, minWorkers: min, maxWorkers: max, queued: this.dispatcher.queued, workers: rows };
  }

  /** For --health: the pool's phase, and who serves. */
  health(): PoolHealth {
    return { phase: this.phase.kind, ...this.dispatcher.health(), backlog: this.options.backlog };
  }

  // --- the tick: what needs a clock ---

  private tick(): void {
    const now = this.clock.now();
    for (const g of this.generations) for (const w of g.slots.keys()) w.reap(); // exits nobody reports (forked, template gone)
    this.murderWorkers(now); // while stopping too: a timed-out worker's kill is due 1 s after its stack dump
    if (this.phase.kind === 'stopping') return;
    this.recycleWorkers(now);
    this.manageWorkers(now);
    this.expireQueue(now);
  }

  /** Workers past a deadline: a request over --timeout, a respawn over --boot-timeout, a kill due. */
  private murderWorkers(now: number): void {
    const limit = this.options.timeout * 1000;
    for (const g of this.generations) {
      for (const slot of g.slots.values()) {
        const w = slot.worker;
        if (slot.drainBy !== 0 && now >= slot.drainBy && slot.killAt === 0) slot.killAt = now; // retiring, its grace is over
        if (slot.killAt !== 0) {
          if (now >= slot.killAt) w.kill('SIGKILL');
        } else if (w.state === 'booting' || slot.warming) {
          // a generation that starts has its own deadline; a respawn or a replacement gets this one
          if (!this.starting(g) && now - slot.spawnedAt > this.options.bootTimeout * 1000) this.bootTimedOut(slot, now);
        } else if (limit > 0 && w.concurrent) {
          this.timeOutStreams(slot, now, limit);
        } else if (limit > 0) {
          const ch = w.channels.find((c) => c.timedFor(now) > limit);
          if (ch) this.timeOut(slot, ch, now);
        }
      }
    }
  }

  /** Replace the serving workers due for it (drain-first), unless a reload or a failed replacement says wait. */
  private recycleWorkers(now: number): void {
    const paused = this.phase.kind !== 'booting' && this.phase.kind !== 'serving';
    const due = this.recycling.due(this.current.slots.values(), now, paused, (slot) => this.dispatcher.isServing(slot.worker));
    for (const { slot, cause, reason } of due) this.recycle(slot, cause, reason);
  }

  /** Keep the pool between its bounds (PoolSize decides). */
  private manageWorkers(now: number): void {
    if (this.phase.kind !== 'serving') return;
    const { idleChannels, queued } = this.dispatcher;
    const scaling = this.size.decide({ live: this.liveSlots(), idleChannels, queued, backingOff: this.respawns.size > 0 }, now);
    if (scaling?.kind === 'retire') this.retire(scaling.slot, scaling.reason);
    if (scaling?.kind !== 'spawn') return;
    if (scaling.why) this.log.info(scaling.why);
    for (let i = 0; i < scaling.count; i++) this.spawnWorker();
  }

  /** 503 to requests queued past --queue-timeout; one line per tick says how many were refused. */
  private expireQueue(now: number): void {
    this.dispatcher.expireQueue(now);
    const refused = this.dispatcher.takeRefused();
    this.counts.queueRefused += refused;
    if (refused > 0) {
      const { backlog, queueTimeout } = this.options;
      this.log.warning(
        `queue full: ${refused} request${refused > 1 ? 's' : ''} got 503 ` +
          `(${this.dispatcher.queued} waiting, --backlog ${backlog}, --queue-timeout ${queueTimeout}s)`,
      );
    }
  }

  // --- duties ---

  private spawnWorker(generation = this.current): Slot {
    const { preload } = this.options;
    const w = preload ? this.spawner.forked(this) : this.spawner.worker(this);
    this.counts.spawned++;
    const slot: Slot = {
      worker: w,
      generation,
      spawnedAt: this.clock.now(),
      requestLimit: this.recycling.requestLimit(),
      retiring: null,
      warming: false,
      failed: null,
      killAt: 0,
      drainBy: 0,
      idleSince: 0,
      replaces: null,
      replacedBy: null,
    };
    generation.slots.set(w, slot);
    if (!preload) this.log.debug(`spawned worker ${w.pid} (generation ${generation.number})`);
    else if (generation.template?.state === 'ready') generation.template.fork(w);
    else generation.unforked.add(slot); // forked once its template is ready
    return slot;
  }

  /** --preload: the process that imports `generation`'s code and forks its workers. */
  private spawnTemplate(generation: Generation): void {
    const t = this.spawner.template(this);
    generation.template = t;
    generation.templateSince = this.clock.now();
    this.log.debug(`spawned template ${t.pid} (generation ${generation.number})`);
  }

  /** Call `spawn` after a crash backoff of `delay` ms (at once for 0), unless the pool stops meanwhile. */
  private respawnAfter(delay: number, spawn: () => void): void {
    if (delay === 0) return spawn();
    const cancel = this.clock.after(delay, () => {
      this.respawns.delete(cancel);
      spawn();
    });
    this.respawns.add(cancel);
  }

  /** Stop giving it requests; it finishes what it has (and what was written ahead to it), then exits. */
  private retire(slot: Slot, reason: string): void {
    const w = slot.worker;
    if (slot.retiring !== null || w.state === 'exited') return;
    slot.retiring = reason;
    this.dispatcher.withdraw(w);
    this.log.info(`worker ${w.pid} retiring (${reason}) after ${w.served} requests`);
    w.stop();
    // what it still runs (a WebSocket, a long poll) has --graceful-timeout, as gunicorn's restarts do
    const grace = this.options.gracefulTimeout ?? 0;
    if (grace > 0) slot.drainBy = this.clock.now() + grace * 1000;
  }

  /** Replace it drain-first: it keeps serving until its replacement is ready. */
  private recycle(slot: Slot, cause: RecycleCause, reason: string): void {
    if (slot.replacedBy !== null) return;
    this.counts.recycled[cause]++;
    this.log.info(`worker ${slot.worker.pid}: ${reason}; starting its replacement`);
    const replacement = this.spawnWorker();
    replacement.replaces = { old: slot, reason };
    slot.replacedBy = replacement;
  }

  /** A request ran past --timeout: 504 to its client, a stack dump (SIGUSR1), SIGKILL after KILL_GRACE_MS. */
  private timeOut(slot: Slot, ch: Channel, now: number): void {
    const what = ch.exchange!.describe();
    const seconds = (ch.runningFor(now) / 1000).toFixed(1);
    this.killHung(
      slot,
      now,
      `worker ${slot.worker.pid} timed out after ${seconds}s handling ${what} (--timeout ${this.options.timeout}); ` +
        'killing it, its Python stacks follow',
    );
    ch.expire(new WorkerError(codes.WORKER_TIMEOUT, `${what} timed out after ${seconds}s`, 504));
    this.counts.timedOut++;
  }

  /** A worker stuck in a request: withdrawn, its stacks printed (SIGUSR1: faulthandler), killed 1 s later, replaced at once. */
  private killHung(slot: Slot, now: number, why: string): void {
    const w = slot.worker;
    this.log.error(why);
    const replaced = slot.retiring !== null || slot.replacedBy !== null;
    slot.retiring ??= 'timeout';
    this.dispatcher.withdraw(w);
    slot.killAt = now + KILL_GRACE_MS;
    w.kill('SIGUSR1'); // the worker's faulthandler prints every thread's stack to stderr
    if (!replaced && this.phase.kind !== 'stopping') this.spawnWorker();
  }

  /**
   * An ASGI worker serves many requests at once, so one past --timeout is cancelled, not its worker:
   * its client gets a 504, the worker logs the task's stack and ends the stream. A stream not ended
   * KILL_GRACE_MS later means the event loop is blocked (a synchronous call in an async view): then
   * the worker goes as a WSGI worker does, its stacks printed first.
   */
  private timeOutStreams(slot: Slot, now: number, limit: number): void {
    const w = slot.worker;
    for (const ch of w.channels) {
      if (ch.expiredAt !== 0 && now - ch.expiredAt > KILL_GRACE_MS) {
        const why = `worker ${w.pid} did not cancel a request that timed out within ${KILL_GRACE_MS / 1000}s: its event loop is blocked`;
        return this.killHung(slot, now, `${why} (a synchronous call in an async function?); killing it, its Python stacks follow`);
      }
      if (ch.timedFor(now) <= limit) continue;
      const what = ch.exchange!.describe();
      const seconds = (ch.runningFor(now) / 1000).toFixed(1);
      this.log.error(`worker ${w.pid}: ${what} timed out after ${seconds}s (--timeout ${this.options.timeout}); cancelling its task`);
      ch.expire(new WorkerError(codes.WORKER_TIMEOUT, `${what} timed out after ${seconds}s`, 504));
      ch.expiredAt = now;
      this.counts.timedOut++;
    }
  }

  /** A respawn or a replacement still importing the app after --boot-timeout. */
  private bootTimedOut(slot: Slot, now: number): void {
    const what = slot.warming ? 'finish its warm-up' : 'start';
    this.log.error(`worker ${slot.worker.pid} did not ${what} within ${this.options.bootTimeout}s (--boot-timeout); killing it`);
    slot.killAt = now;
    slot.worker.kill('SIGKILL');
  }

  // --- generations starting and ending ---

  /** `generation` is the one that boots or reloads (it has the phase's deadline). */
  private starting(generation: Generation): boolean {
    const phase = this.phase;
    return (phase.kind === 'booting' || phase.kind === 'reloading') && phase.generation === generation;
  }

  /** Every worker of the booting generation is ready: the pool serves. */
  private bootDone(): void {
    const phase = this.phase;
    if (phase.kind !== 'booting') return;
    phase.deadline();
    this.phase = { kind: 'serving' };
    phase.settle(null);
    if (phase.reloadAfter) this.reload();
  }

  /** The pool cannot start: it stops, and start() throws `err`. */
  private bootFailed(err: WorkerError): void {
    const phase = this.phase;
    if (phase.kind !== 'booting') return;
    phase.settle(err); // before stop(), which would end start() without it
    void this.stop(0);
  }

  /** Every worker of the new generation is ready: it serves, and the one it replaces retires. */
  private reloadDone(): void {
    const phase = this.phase;
    if (phase.kind !== 'reloading') return;
    phase.deadline();
    this.phase = { kind: 'serving' };
    const old = this.current;
    this.current = phase.generation;
    old.retired = 'reload';
    old.template?.stop();
    for (const slot of this.current.slots.values()) if (slot.worker.state === 'ready') this.dispatcher.serve(slot.worker);
    for (const slot of [...old.slots.values()]) {
      // recycling replacements were of the old generation: they retire with it
      slot.replaces = null;
      slot.replacedBy = null;
      this.retire(slot, 'reload');
    }
    this.dropIfGone(old);
    this.log.info(`reload: generation ${this.current.number} serving`);
    if (phase.again) this.reload();
  }

  /** The new generation cannot start: it is killed, the serving one goes on. */
  private reloadFailed(why: string): void {
    const phase = this.phase;
    if (phase.kind !== 'reloading') return;
    phase.deadline();
    this.phase = { kind: 'serving' };
    this.counts.reloadsFailed++;
    this.log.error(`reload failed, the old workers keep serving: ${why}`);
    const failed = phase.generation;
    failed.retired = 'failed reload';
    failed.template?.kill('SIGKILL');
    for (const slot of failed.slots.values()) {
      slot.retiring = 'failed reload';
      slot.worker.kill('SIGKILL');
    }
    this.dropIfGone(failed);
  }

  /** A replacement is ready: the worker it replaces retires. */
  private replacementReady(slot: Slot): void {
    const { old, reason } = slot.replaces!;
    slot.replaces = null;
    old.replacedBy = null;
    this.recycling.replaced();
    this.retire(old, reason);
  }

  /** A replacement died before it was ready: the old worker keeps serving; recycling tries again later. */
  private replacementFailed(slot: Slot, how: string): void {
    const old = slot.replaces!.old;
    old.replacedBy = null;
    this.counts.crashed++;
    const delay = this.recycling.failed(this.clock.now());
    const { pid } = old.worker;
    this.log.error(
      `worker ${slot.worker.pid}, replacing ${pid}, exited with ${how} before it was ready; ` +
        `worker ${pid} keeps serving, next attempt in ${delay / 1000}s`,
    );
  }

  /** A worker died unasked: respawned at once, then with a doubling backoff while workers keep dying. */
  private respawn(slot: Slot, how: string): void {
    this.crashes++;
    this.counts.crashed++;
    const delay = this.crashes <= 1 ? 0 : Math.min(100 * 2 ** (this.crashes - 2), MAX_BACKOFF_MS);
    this.log.warning(`worker ${slot.worker.pid} exited with ${how}; respawning${delay ? ` in ${delay} ms` : ''}`);
    this.respawnAfter(delay, () => this.spawnWorker());
  }

  /** The workers that count towards the pool's size: serving generation, not leaving, not a replacement. */
  private liveSlots(): Slot[] {
    const live: Slot[] = [];
    for (const slot of this.current.slots.values()) {
      if (slot.retiring === null && slot.worker.state !== 'exited' && slot.replaces === null) live.push(slot);
    }
    return live;
  }

  private slotOf(w: Worker): Slot | undefined {
    for (const g of this.generations) {
      const slot = g.slots.get(w);
      if (slot) return slot;
    }
    return undefined;
  }

  private generationOf(t: Template): Generation | undefined {
    return this.generations.find((g) => g.template === t);
  }

  /** A generation that no longer serves and has no process left is forgotten. */
  private dropIfGone(g: Generation): void {
    if (g !== this.current && !this.starting(g) && g.empty) this.generations = this.generations.filter((x) => x !== g);
  }

  // --- hooks from the workers ---

  workerOnReady(w: Worker): void {
    const slot = this.slotOf(w);
    if (!slot) return;
    const g = slot.generation;
    this.log.info(`worker ${w.pid} ready (python ${w.python || '?'}, ${w.serves}, generation ${g.number})`);
    if (this.phase.kind === 'stopping' || slot.retiring !== null) return w.stop();
    const { warmup = [] } = this.options;
    if (warmup.length > 0 && w.channels[0]) return this.startWarmup(slot, w.channels[0], warmup);
    this.takeOn(slot);
  }

  /** Ready (and warmed up): it serves, or waits for the rest of its generation, or retires if a reload overtook it. */
  private takeOn(slot: Slot): void {
    const g = slot.generation;
    if (this.phase.kind === 'reloading' && this.starting(g)) {
      if (g.ready) this.reloadDone(); // serves once the whole new generation is ready
      return;
    }
    if (g !== this.current) return this.retire(slot, 'reload'); // a respawn of a generation a reload overtook
    this.dispatcher.serve(slot.worker);
    if (slot.replaces) this.replacementReady(slot);
    if (this.phase.kind === 'booting' && g.ready) this.bootDone();
  }

  /** --warmup: its requests first; it is taken on only if all are answered below 500 within --boot-timeout. */
  private startWarmup(slot: Slot, ch: Channel, requests: readonly WarmupRequest[]): void {
    slot.warming = true;
    void warmUp(ch, requests, this.log).then((failure) => {
      slot.warming = false;
      const w = slot.worker;
      // gone, killed (--boot-timeout, a failed reload), retired (a reload overtook it) or stopping: nothing to do
      if (w.state !== 'ready' || slot.retiring !== null || slot.killAt !== 0 || this.phase.kind === 'stopping') return;
      if (failure === null) return this.takeOn(slot);
      this.warmupFailed(slot, `warm-up ${failure}`);
    });
  }

  /** A warm-up failed: as a failed boot (exit 3 at start, a reload rolled back, a respawn or a replacement failed). */
  private warmupFailed(slot: Slot, why: string): void {
    this.counts.warmupsFailed++;
    const failure = `worker ${slot.worker.pid}: ${why}`;
    if (this.starting(slot.generation)) {
      return this.phase.kind === 'booting' ? this.bootFailed(new WorkerError(codes.WORKER_BOOT, failure)) : this.reloadFailed(failure);
    }
    this.log.error(`${failure}; killing it`);
    slot.failed = why.split('\n')[0]!;
    slot.worker.kill('SIGKILL');
  }

  workerOnBootError(w: Worker, err: WorkerError): void {
    const slot = this.slotOf(w);
    if (this.phase.kind === 'booting') return this.bootFailed(err);
    if (slot && this.phase.kind === 'reloading' && this.starting(slot.generation)) {
      return this.reloadFailed(`the new code does not start:\n${err.message}`);
    }
    this.log.error(`worker ${w.pid} failed to boot:\n${err.message}`);
  }

  workerOnBroken(w: Worker, err: WorkerError): void {
    this.log.error(`worker ${w.pid}: ${err.message}; killing it`);
    this.dispatcher.withdraw(w);
    w.kill('SIGKILL');
  }

  /** What an exit means depends on why the worker was there: each case is one duty. */
  workerOnExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    const slot = this.slotOf(w);
    if (!slot) return;
    const g = slot.generation;
    g.slots.delete(w);
    g.unforked.delete(slot);
    this.dispatcher.withdraw(w);
    this.dropIfGone(g);
    const how = exitText(code, signal) + (slot.failed ? ` after its ${slot.failed}` : '');
    const phase = this.phase;
    if (phase.kind === 'stopping') {
      this.log.debug(`worker ${w.pid} exited`);
      if (this.workers.size === 0) phase.drained();
    } else if (phase.kind === 'booting' && w.failure) {
      this.bootFailed(w.failure);
    } else if (phase.kind === 'reloading' && this.starting(g)) {
      this.reloadFailed(
        `worker ${w.pid} of the new generation exited with ${how} before it was ready${w.failure ? `:\n${w.failure.message}` : ''}`,
      );
    } else if (slot.replaces) {
      this.replacementFailed(slot, how);
    } else if (slot.retiring !== null) {
      this.log.info(`worker ${w.pid} exited (${how}) after retiring (${slot.retiring})`);
    } else if (slot.replacedBy) {
      this.counts.crashed++;
      this.log.warning(`worker ${w.pid} exited with ${how} while its replacement starts`);
    } else {
      this.respawn(slot, how);
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

  // --- hooks from the templates (--preload) ---

  templateOnReady(t: Template): void {
    const g = this.generationOf(t);
    if (!g) return;
    this.log.info(`template ${t.pid} ready (python ${t.python || '?'}, generation ${g.number}): workers are forked from it`);
    for (const slot of g.unforked) t.fork(slot.worker);
    g.unforked.clear();
  }

  templateOnBootError(t: Template, err: WorkerError): void {
    const g = this.generationOf(t);
    if (this.phase.kind === 'booting') return this.bootFailed(err);
    if (g && this.phase.kind === 'reloading' && this.starting(g)) return this.reloadFailed(`the new code does not start:\n${err.message}`);
    this.log.error(`template ${t.pid} failed to boot:\n${err.message}`);
  }

  templateOnBroken(t: Template, err: WorkerError): void {
    this.log.error(`template ${t.pid}: ${err.message}; killing it`);
    t.kill('SIGKILL');
  }

  templateOnExit(t: Template, code: number | null, signal: NodeJS.Signals | null): void {
    const g = this.generationOf(t);
    if (!g) return;
    g.template = null;
    this.dropIfGone(g);
    const how = exitText(code, signal);
    const phase = this.phase;
    if (phase.kind === 'booting') {
      this.bootFailed(t.failure ?? new WorkerError(codes.WORKER_BOOT, `the template exited with ${how}`));
    } else if (phase.kind === 'reloading' && this.starting(g)) {
      this.reloadFailed(`the new template exited with ${how}${t.failure ? `:\n${t.failure.message}` : ''}`);
    } else if (phase.kind === 'stopping' || g.retired !== null) {
      this.log.debug(`template ${t.pid} exited (${how})`);
    } else {
      this.respawnTemplate(g, t, how);
    }
  }

  /** A template died: its workers go on serving; new ones need a template again, after a backoff. */
  private respawnTemplate(g: Generation, t: Template, how: string): void {
    this.crashes++;
    const delay = Math.min(100 * 2 ** Math.max(this.crashes - 1, 0), MAX_BACKOFF_MS);
    this.log.warning(`template ${t.pid} exited with ${how}; starting another in ${delay} ms`);
    this.respawnAfter(delay, () => {
      if (g.retired === null && g.template === null) this.spawnTemplate(g);
    });
  }
}
