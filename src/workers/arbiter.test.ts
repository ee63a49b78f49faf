// The arbiter with fake processes and a fake clock: every lifecycle rule,
// in milliseconds. (test/integration/process-manager.test.ts runs the same
// rules with real Python workers.)

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { GatewayError } from '../errors.js';
import { Logger, levels } from '../log.js';
import { Arbiter, type ArbiterOptions } from './arbiter.js';
import type { Channel, Exchange } from './channel.js';
import { FakeClock, FakeSpawner, type FakeWorker } from './fakes.js';

const OPTIONS: ArbiterOptions = {
  python: 'python3',
  app: 'app:application',
  threads: 1,
  validate: false,
  cwd: undefined,
  env: {},
  workers: 2,
  maxWorkers: 2,
  idleTimeout: 10,
  bootTimeout: 5,
  timeout: 0,
  maxRequests: 0,
  maxRequestsJitter: 0,
  maxRss: 0,
  maxLifetime: 0,
  preload: false,
  pipeline: 0,
  backlog: 100,
  queueTimeout: 0,
};

/** A request that records what happened to it. */
class FakeExchange implements Exchange {
  channel: Channel | null = null;
  lost: GatewayError | null = null;
  constructor(
    readonly name = 'GET /',
    readonly pipelinable = true,
  ) {}
  start(channel: Channel): void {
    this.channel = channel;
  }
  onFrame(): void {}
  onLost(err: GatewayError): void {
    this.lost = err;
  }
  describe(): string {
    return this.name;
  }
}

/** A turn of the event loop: start() awaits the spawner before it spawns. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

class Harness {
  readonly clock = new FakeClock();
  readonly spawner: FakeSpawner;
  readonly pool: Arbiter;
  private readonly lines: string[] = [];

  constructor(t: TestContext, options: Partial<ArbiterOptions> = {}) {
    // the channels and the queue time requests with performance.now(): the same fake time
    t.mock.method(performance, 'now', () => this.clock.now());
    this.spawner = new FakeSpawner(options.threads ?? 1);
    const log = new Logger(levels.debug, (line) => this.lines.push(line.replace(/^\[[^\]]*\] \[[^\]]*\] /, '').trimEnd()));
    this.pool = new Arbiter({ ...OPTIONS, ...options }, log, { spawner: this.spawner, clock: this.clock });
  }

  /** start(), every worker (and template) saying READY at once. */
  async started(): Promise<void> {
    const started = this.pool.start();
    await settle();
    for (const t of this.spawner.templates) t.ready();
    for (const w of this.spawner.workers) w.ready();
    await started;
  }

  /** Let `ms` pass (ticks and timers run); then whatever was SIGKILLed is gone. */
  advance(ms: number): void {
    this.clock.advance(ms);
    this.spawner.deliverKills();
  }

  /** The log so far, one line per record, without time and pid. */
  get log(): string {
    return this.lines.join('\n');
  }

  /** Submit a request; it runs if a channel takes it. */
  submit(name = 'GET /'): FakeExchange {
    const ex = new FakeExchange(name);
    this.pool.submit(ex);
    return ex;
  }

  /** Each worker's state as `warpipe status` shows it, in spawn order. */
  states(): string[] {
    return this.pool.status().workers.map((w) => w.state);
  }

  get workers(): FakeWorker[] {
    return this.spawner.workers;
  }
}

// --- booting ---

test('start: every worker serves as soon as it is ready; start() resolves once all are', async (t) => {
  const h = new Harness(t);
  let resolved = false;
  const started = h.pool.start().then(() => (resolved = true));
  await settle();
  assert.equal(h.workers.length, 2);
  h.workers[0]!.ready();
  await settle();
  assert.equal(resolved, false);
  assert.deepEqual(h.states(), ['idle', 'booting']);
  const ex = h.submit();
  assert.equal(ex.channel?.owner, h.workers[0], 'the ready worker takes requests already');
  h.workers[1]!.ready();
  await started;
  assert.equal(resolved, true);
  assert.match(h.log, /worker \d+ ready \(python 3\.12\.0, 1 thread, generation 0\)/);
});

test('start: a worker that fails to import the app fails the boot: the others are killed, start() throws its error', async (t) => {
  const h = new Harness(t);
  const started = h.pool.start();
  await settle();
  const [bad, good] = h.workers;
  good!.ready();
  bad!.bootError('ModuleNotFoundError: No module named app');
  bad!.exit(3);
  await settle();
  assert.equal(good!.stopped, true, 'told to stop');
  h.advance(0); // stop(0): no grace
  assert.deepEqual(good!.signals, ['SIGKILL']);
  await assert.rejects(started, /No module named app/);
  assert.equal(h.spawner.closed, true);
});

test('start: workers not ready within --boot-timeout fail the boot', async (t) => {
  const h = new Harness(t, { bootTimeout: 5 });
  const failed = assert.rejects(h.pool.start(), /workers were not ready within 5s/);
  await settle();
  h.workers[0]!.ready();
  h.advance(4900);
  assert.equal(h.spawner.alive.length, 2);
  h.advance(200); // the deadline: both are stopped, and killed at once (no grace)
  await failed;
  assert.equal(h.spawner.alive.length, 0);
});

// --- crashes ---

test('a crashed worker is respawned at once, then with a doubling backoff while workers keep dying', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  await h.started();
  h.workers[0]!.exit(null, 'SIGSEGV');
  assert.match(h.log, /worker \d+ exited with signal SIGSEGV; respawning$/m);
  assert.equal(h.workers.length, 2, 'at once');
  h.workers[1]!.exit(1); // dies while it boots
  assert.match(h.log, /exited with code 1; respawning in 100 ms/);
  h.advance(99);
  assert.equal(h.workers.length, 2, 'not before the delay, not even by manageWorkers');
  h.advance(1);
  assert.equal(h.workers.length, 3);
  h.workers[2]!.exit(1);
  assert.match(h.log, /respawning in 200 ms/);
  h.advance(200);
  h.workers[3]!.ready();
  h.submit();
  h.workers[3]!.finish(); // a request served: the pool is healthy again
  h.workers[3]!.exit(1);
  assert.equal(h.workers.length, 5, 'at once again');
  assert.equal(h.pool.counts.crashed, 4);
});

test('a respawned worker that hangs while importing is killed after --boot-timeout, then respawned with backoff', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, bootTimeout: 2 });
  await h.started();
  h.workers[0]!.exit(null, 'SIGKILL');
  const hung = h.workers[1]!;
  h.advance(2000);
  assert.deepEqual(hung.signals, []);
  h.advance(100);
  assert.deepEqual(hung.signals, ['SIGKILL']);
  assert.match(
    h.log,
    /worker \d+ did not start within 2s \(--boot-timeout\); killing it\n.*exited with signal SIGKILL; respawning in 100 ms/,
  );
});

test('a worker that breaks the protocol is withdrawn, killed and replaced', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  await h.started();
  const w = h.workers[0]!;
  w.breaks('unexpected control frame 0x99');
  assert.deepEqual(w.signals, ['SIGKILL']);
  assert.equal(h.submit().channel, null, 'no request goes to it');
  h.spawner.deliverKills();
  assert.match(h.log, /worker \d+: unexpected control frame 0x99; killing it/);
  assert.equal(h.workers.length, 2);
});

// --- timeouts ---

test('--timeout: the request gets 504, the worker dumps its stacks (SIGUSR1), is replaced at once and killed 1 s later', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, timeout: 2 });
  await h.started();
  const w = h.workers[0]!;
  const ex = h.submit('GET /slow');
  h.advance(2050); // the tick at 2 s: not over it yet
  assert.equal(ex.lost, null);
  h.advance(50);
  const lost = ex.lost as GatewayError | null;
  assert.equal(lost?.status, 504);
  assert.equal(lost?.code, 'ERR_WORKER_TIMEOUT');
  assert.deepEqual(w.signals, ['SIGUSR1']);
  assert.match(h.log, /worker \d+ timed out after 2\.\ds handling GET \/slow \(--timeout 2\); killing it/);
  assert.equal(h.workers.length, 2, 'replaced at once');
  assert.deepEqual(h.states(), ['retiring (timeout)', 'booting']);
  h.advance(900);
  assert.deepEqual(w.signals, ['SIGUSR1']);
  h.advance(100);
  assert.deepEqual(w.signals, ['SIGUSR1', 'SIGKILL']);
  assert.match(h.log, /exited \(signal SIGKILL\) after retiring \(timeout\)/);
  assert.equal(h.pool.counts.timedOut, 1);
});

// --- recycling ---

test('--max-requests: the replacement starts first; the old worker retires once it is ready', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, maxRequests: 3 });
  await h.started();
  const old = h.workers[0]!;
  for (let i = 0; i < 3; i++) {
    h.submit();
    old.finish();
  }
  h.advance(100);
  assert.match(h.log, /worker \d+: served 3 requests \(--max-requests 3\); starting its replacement/);
  assert.equal(h.workers.length, 2);
  h.advance(300);
  assert.equal(h.workers.length, 2, 'one replacement');
  assert.equal(h.submit().channel?.owner, old, 'the old worker serves until its replacement is ready');
  old.finish();
  h.workers[1]!.ready();
  assert.equal(old.stopped, true);
  assert.match(h.log, /retiring \(served 3 requests \(--max-requests 3\)\) after 4 requests/);
  assert.equal(h.submit().channel?.owner, h.workers[1]);
  old.exit(0);
  assert.match(h.log, /exited \(code 0\) after retiring \(served/);
  assert.equal(h.pool.counts.recycled.max_requests, 1);
});

test('--max-lifetime: a worker is replaced once it has run that long', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, maxLifetime: 2 });
  await h.started();
  h.advance(1900);
  assert.equal(h.workers.length, 1);
  h.advance(200);
  assert.match(h.log, /worker \d+: running for 2s \(--max-lifetime 2\); starting its replacement/);
  h.workers[1]!.ready();
  assert.equal(h.workers[0]!.stopped, true);
  assert.equal(h.pool.counts.recycled.max_lifetime, 1);
});

test('--max-rss: a worker over the limit is replaced (memory is read once a second)', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, maxRss: 50 });
  await h.started();
  h.advance(100);
  h.workers[0]!.rssMiB = 80;
  h.advance(500);
  assert.equal(h.workers.length, 1, 'not read again yet');
  h.advance(500);
  assert.match(h.log, /worker \d+: resident memory 80\.0 MiB \(--max-rss 50\); starting its replacement/);
  h.workers[1]!.ready();
  assert.equal(h.workers[0]!.stopped, true);
  assert.equal(h.pool.counts.recycled.max_rss, 1);
});

test('a replacement that dies before it is ready: the old worker keeps serving; the next try waits 1 s, then 2 s', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, maxRequests: 1 });
  await h.started();
  const old = h.workers[0]!;
  h.submit();
  old.finish();
  h.advance(100);
  h.workers[1]!.exit(1);
  assert.match(h.log, /replacing \d+, exited with code 1 before it was ready; worker \d+ keeps serving, next attempt in 1s/);
  assert.equal(h.submit().channel?.owner, old);
  old.finish();
  h.advance(900);
  assert.equal(h.workers.length, 2);
  h.advance(100);
  assert.equal(h.workers.length, 3);
  h.workers[2]!.exit(1);
  assert.match(h.log, /next attempt in 2s/);
  h.advance(2000);
  h.workers[3]!.ready();
  assert.equal(old.stopped, true);
  assert.equal(h.pool.counts.crashed, 2);
});

// --- reload ---

test('reload: the new generation serves once all of it is ready; the old one retires then', async (t) => {
  const h = new Harness(t);
  await h.started();
  h.pool.reload();
  assert.match(h.log, /reload: starting 2 new workers \(generation 1\)/);
  const [a, b] = h.workers.slice(2);
  a!.ready();
  assert.deepEqual(h.states(), ['idle', 'idle', 'ready', 'booting'], 'not serving before the whole generation is ready');
  b!.ready();
  assert.match(h.log, /reload: generation 1 serving/);
  assert.deepEqual(h.states(), ['retiring (reload)', 'retiring (reload)', 'idle', 'idle']);
  assert.equal(h.pool.status().generation, 1);
  assert.ok(h.workers[0]!.stopped && h.workers[1]!.stopped);
  h.workers[0]!.exit(0);
  assert.match(h.log, /exited \(code 0\) after retiring \(reload\)/);
});

test('reload: an old worker still running a request (a WebSocket, a long poll) after --graceful-timeout is killed', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, gracefulTimeout: 5 });
  await h.started();
  const [old, ex] = [h.workers[0]!, h.submit('GET /ws')];
  h.pool.reload();
  h.workers[1]!.ready();
  h.advance(4900);
  assert.deepEqual([old.signals, ex.lost], [[], null], 'it has its grace');
  h.advance(200);
  assert.deepEqual([old.signals[0], (ex.lost as GatewayError | null)?.status], ['SIGKILL', 502]);
});

test('reload with new code that fails to import: rolled back, the old workers keep serving', async (t) => {
  const h = new Harness(t);
  await h.started();
  h.pool.reload();
  const [a, b] = h.workers.slice(2);
  a!.ready();
  b!.bootError('SyntaxError: invalid syntax');
  assert.match(h.log, /reload failed, the old workers keep serving: the new code does not start:\nSyntaxError: invalid syntax/);
  assert.deepEqual(a!.signals, ['SIGKILL']);
  assert.deepEqual(b!.signals, ['SIGKILL']);
  h.spawner.deliverKills();
  assert.deepEqual(h.states(), ['idle', 'idle']);
  assert.equal(h.pool.status().generation, 0);
  assert.equal(h.pool.counts.crashed, 0, 'killed on purpose');
  h.pool.reload(); // and a later reload works
  for (const w of h.workers.slice(4)) w.ready();
  assert.match(h.log, /reload: generation 2 serving/);
});

test('reload: a new worker that dies before the generation serves fails it; so does the deadline', async (t) => {
  const h = new Harness(t, { bootTimeout: 3 });
  await h.started();
  h.pool.reload();
  h.workers[2]!.exit(1);
  assert.match(
    h.log,
    /reload failed, the old workers keep serving: worker \d+ of the new generation exited with code 1 before it was ready/,
  );
  h.spawner.deliverKills();
  h.pool.reload();
  h.workers[4]!.ready();
  h.advance(3000);
  assert.match(h.log, /reload failed, the old workers keep serving: the new workers were not ready within 3s/);
  h.spawner.deliverKills();
  assert.deepEqual(h.states(), ['idle', 'idle']);
});

test('a reload asked for during a reload follows it', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  await h.started();
  h.pool.reload();
  h.pool.reload();
  assert.match(h.log, /reload: one is under way; another follows it/);
  h.workers[1]!.ready();
  assert.match(h.log, /reload: generation 1 serving\n.*reload: starting 1 new worker \(generation 2\)/);
  h.workers[2]!.ready();
  assert.match(h.log, /reload: generation 2 serving/);
  assert.equal(h.pool.counts.reloads, 2);
});

// --- autoscaling ---

test('autoscaling: one more worker after 3 saturated ticks, up to MAX; back down to MIN after --idle-timeout', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 3, idleTimeout: 1 });
  await h.started();
  h.submit();
  h.advance(200);
  assert.equal(h.workers.length, 1);
  h.advance(100);
  assert.match(h.log, /scaling up to 2 workers: all 1 busy, 0 requests queued/);
  assert.equal(h.workers.length, 2);
  h.advance(1000);
  assert.equal(h.workers.length, 2, 'none more while one boots');
  h.workers[1]!.ready();
  h.submit();
  h.advance(300);
  assert.equal(h.workers.length, 3);
  h.workers[2]!.ready();
  h.submit();
  h.advance(1000);
  assert.equal(h.workers.length, 3, 'never more than MAX');
  for (const w of h.workers) w.finish();
  h.advance(1100);
  assert.match(h.log, /retiring \(idle for 1s, scaling down to 2\)/);
  h.advance(100);
  assert.match(h.log, /retiring \(idle for 1s, scaling down to 1\)/);
  assert.deepEqual(
    h.states().filter((s) => !s.startsWith('retiring')),
    ['idle'],
  );
});

test('SIGTTIN and SIGTTOU move both bounds by one, never below one worker', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  await h.started();
  h.pool.scaleBy(1);
  assert.match(h.log, /SIGTTIN: 2 workers/);
  h.advance(100);
  assert.equal(h.workers.length, 2);
  h.workers[1]!.ready();
  h.pool.scaleBy(-1);
  h.advance(100);
  assert.deepEqual(
    h.states().filter((s) => s.startsWith('retiring')),
    ['retiring (scaled down)'],
  );
  h.pool.scaleBy(-1);
  assert.match(h.log, /SIGTTOU: already down to one worker/);
});

// --- stopping ---

test('stop: queued requests get 503, running ones finish, then the workers exit', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  await h.started();
  const w = h.workers[0]!;
  const running = h.submit();
  const queued = h.submit();
  let stopped = false;
  const done = h.pool.stop(10).then(() => (stopped = true));
  assert.equal(queued.lost?.status, 503);
  assert.equal(running.lost, null);
  assert.equal(w.stopped, true);
  w.finish();
  await settle();
  assert.equal(stopped, false);
  w.exit(0);
  await done;
  assert.equal(h.clock.pending, 0, 'no timer left behind');
});

test('stop: workers still busy after the grace period are killed', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  await h.started();
  h.submit();
  const done = h.pool.stop(10);
  h.advance(9900);
  assert.deepEqual(h.workers[0]!.signals, []);
  h.advance(100);
  await done;
  assert.match(h.log, /worker \d+ still busy after 10s, killing it/);
});

// --- preload ---

test('--preload: workers are forked from the template once it is ready', async (t) => {
  const h = new Harness(t, { preload: true });
  const started = h.pool.start();
  await settle();
  const [template] = h.spawner.templates;
  assert.equal(h.workers.length, 2);
  assert.deepEqual(template!.forks, []);
  template!.ready();
  assert.deepEqual(template!.forks, h.workers);
  for (const w of h.workers) w.ready();
  await started;
  assert.deepEqual(h.states(), ['template', 'idle', 'idle']);
  assert.match(h.log, /template \d+ ready \(python 3\.12\.0, generation 0\): workers are forked from it/);
});

test('--preload: a template that dies is started again with backoff; its workers go on serving', async (t) => {
  const h = new Harness(t, { preload: true, workers: 1, maxWorkers: 1 });
  await h.started();
  const [old] = h.spawner.templates;
  old!.exit(null, 'SIGKILL');
  assert.match(h.log, /template \d+ exited with signal SIGKILL; starting another in 100 ms/);
  assert.deepEqual(h.states(), ['idle']);
  h.workers[0]!.exit(1); // its respawn waits for the new template (and the backoff: one crash more)
  assert.match(h.log, /worker \d+ exited with code 1; respawning in 100 ms/);
  h.advance(100);
  assert.equal(h.workers.length, 2);
  const fresh = h.spawner.templates[1]!;
  assert.deepEqual(fresh.forks, []);
  fresh.ready();
  assert.deepEqual(fresh.forks, [h.workers[1]]);
});

test('--preload: a reload whose template fails to import is rolled back', async (t) => {
  const h = new Harness(t, { preload: true });
  await h.started();
  h.pool.reload();
  const fresh = h.spawner.templates[1]!;
  fresh.bootError('ImportError: broken release');
  assert.match(h.log, /reload failed, the old workers keep serving: the new code does not start:\nImportError: broken release/);
  assert.deepEqual(fresh.signals, ['SIGKILL']);
  h.spawner.deliverKills();
  assert.deepEqual(h.states(), ['template', 'idle', 'idle']);
});

test('--preload: after a reload the old template stops', async (t) => {
  const h = new Harness(t, { preload: true, workers: 1, maxWorkers: 1 });
  await h.started();
  h.pool.reload();
  const [old, fresh] = h.spawner.templates;
  fresh!.ready();
  h.workers[1]!.ready();
  assert.equal(old!.stopped, true);
  old!.exit(0);
  assert.match(h.log, /template \d+ exited \(code 0\)/);
  assert.deepEqual(h.states(), ['template', 'retiring (reload)', 'idle']);
});

test('--preload: stopped while the template boots: the stand-ins it never forked are dropped at once', async (t) => {
  const h = new Harness(t, { preload: true });
  const started = h.pool.start();
  await settle();
  const done = h.pool.stop(30);
  await started; // stopped while it started: start() returns
  assert.equal(h.spawner.templates[0]!.stopped, true);
  h.spawner.deliverKills();
  await done;
  assert.equal(h.spawner.alive.length, 0);
});

// --- the phase: what is asked at the wrong time ---

test('a reload asked for while the pool boots follows once it serves', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  const started = h.pool.start();
  await settle();
  h.pool.reload();
  assert.equal(h.workers.length, 1, 'not two generations starting at once');
  assert.match(h.log, /reload: the pool is still starting; it reloads once it serves/);
  h.workers[0]!.ready();
  await started;
  assert.match(h.log, /reload: starting 1 new worker \(generation 1\)/);
  assert.equal(h.workers.length, 2);
});

test('a recycling replacement still booting when a reload ends retires with the old generation', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, maxLifetime: 1 });
  await h.started();
  h.pool.reload();
  const fresh = h.workers[1]!;
  h.advance(1000);
  assert.equal(h.workers.length, 2, 'no recycling during a reload');
  fresh.ready();
  h.advance(100);
  const replacement = h.workers[2]!; // gen 1's worker is due too by now: its replacement starts
  assert.match(h.log, /running for 1s \(--max-lifetime 1\); starting its replacement/);
  h.pool.reload();
  h.workers[3]!.ready();
  assert.equal(replacement.stopped, true, 'it belongs to the generation that retired');
  replacement.ready(); // it says READY while it stops: not served, not a replacement any more
  assert.deepEqual(h.states(), ['retiring (reload)', 'retiring (reload)', 'retiring (reload)', 'idle']);
});

test("a second stop() returns the first one's drain; reload() and scaling after it do nothing", async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1 });
  await h.started();
  const first = h.pool.stop(10);
  assert.equal(h.pool.stop(0), first);
  h.pool.reload();
  h.advance(1000);
  assert.equal(h.workers.length, 1);
  h.workers[0]!.exit(0);
  await first;
});

// --- --warmup and --health ---

const WARMUP = { warmup: [{ describe: 'GET /warm', environ: () => 'REQUEST_METHOD\0GET\0PATH_INFO\0/warm\0' }] };

test('--warmup: a worker serves only once it answered its warm-up (not counted as served); start() resolves then', async (t) => {
  const h = new Harness(t, WARMUP);
  let resolved = false;
  const started = h.pool.start().then(() => (resolved = true));
  await settle();
  for (const w of h.workers) w.ready();
  assert.deepEqual(h.states(), ['warming', 'warming']);
  assert.equal(h.pool.health().serving, 0);
  const ex = h.submit();
  assert.equal(ex.channel?.owner, undefined, 'no client request reaches a worker still warming up');
  h.workers[0]!.answer('200 OK', 'warm');
  await settle();
  assert.equal(ex.channel?.owner, h.workers[0], 'the queued request runs once the worker is warm');
  assert.equal(h.workers[0]!.served, 1);
  assert.equal(resolved, false);
  h.workers[1]!.answer('404 Not Found');
  await started;
  assert.match(h.log, /warm-up GET \/warm answered 404 Not Found/);
  assert.deepEqual(h.pool.health(), { phase: 'serving', serving: 2, busy: 1, queued: 0, backlog: 100 });
});

test('--warmup: a 5xx at start is a failed boot, with the status and the body', async (t) => {
  const h = new Harness(t, WARMUP);
  const started = h.pool.start();
  await settle();
  for (const w of h.workers) w.ready();
  h.workers[1]!.answer('500 Internal Server Error', 'Traceback: NameError');
  await settle();
  h.advance(0); // stop(0): no grace, the workers are killed
  await assert.rejects(started, /worker \d+: warm-up GET \/warm answered 500 Internal Server Error:\nTraceback: NameError/);
  assert.equal(h.pool.counts.warmupsFailed, 1);
});

test('--warmup: a reload whose warm-up fails is rolled back; the old workers keep serving', async (t) => {
  const h = new Harness(t, WARMUP);
  const started = h.pool.start();
  await settle();
  for (const w of h.workers) {
    w.ready();
    w.answer('200 OK');
  }
  await started;
  h.pool.reload();
  const fresh = h.workers.slice(2);
  for (const w of fresh) w.ready();
  fresh[0]!.answer('200 OK');
  fresh[1]!.answer('502 Bad Gateway', 'broken view');
  await settle();
  assert.match(h.log, /reload failed, the old workers keep serving: worker \d+: warm-up GET \/warm answered 502 Bad Gateway:\nbroken view/);
  assert.ok(fresh.every((w) => w.doomed));
  assert.equal(h.pool.counts.reloadsFailed, 1);
  h.advance(100);
  assert.equal(h.pool.status().generation, 0);
  assert.equal(h.submit().channel?.owner, h.workers[0]);
});

test('--warmup: a respawn that fails it is killed and respawned with the backoff; one that never answers, at --boot-timeout', async (t) => {
  const h = new Harness(t, { ...WARMUP, workers: 1, maxWorkers: 1 });
  const started = h.pool.start();
  await settle();
  h.workers[0]!.ready();
  h.workers[0]!.answer('200 OK');
  await started;
  h.workers[0]!.exit(1);
  const respawn = h.workers[1]!;
  respawn.ready();
  respawn.answer('500 Internal Server Error');
  await settle();
  assert.ok(respawn.doomed);
  h.advance(0);
  assert.match(h.log, /exited with signal SIGKILL after its warm-up GET \/warm answered 500 Internal Server Error; respawning in 100 ms/);
  h.advance(100);
  const third = h.workers[2]!;
  third.ready();
  assert.deepEqual(h.states(), ['warming']);
  h.advance(5100);
  assert.match(h.log, /did not finish its warm-up within 5s \(--boot-timeout\); killing it/);
  assert.equal(third.state, 'exited');
});

test('health(): booting while no worker serves; stopping once stopped', async (t) => {
  const h = new Harness(t);
  const started = h.pool.start();
  await settle();
  assert.equal(h.pool.health().phase, 'booting');
  for (const w of h.workers) w.ready();
  await started;
  h.submit();
  assert.deepEqual(h.pool.health(), { phase: 'serving', serving: 2, busy: 1, queued: 0, backlog: 100 });
  void h.pool.stop(0);
  assert.equal(h.pool.health().phase, 'stopping');
});

test('stop() after a --timeout: the hung worker is killed when due, not at the end of the grace; no replacement then', async (t) => {
  const h = new Harness(t, { workers: 1, maxWorkers: 1, timeout: 2 });
  await h.started();
  h.submit('GET /hang');
  h.advance(2100);
  assert.deepEqual(h.workers[0]!.signals, ['SIGUSR1']);
  const stopped = h.pool.stop(30);
  h.advance(1000);
  assert.equal(h.workers[0]!.state, 'exited', 'killed 1 s after its stack dump');
  h.advance(5000);
  assert.equal(h.workers.length, 2, 'only the replacement started before the stop');
  h.workers[1]!.exit(0);
  await stopped;
});
