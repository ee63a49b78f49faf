// --gateways N (N > 1), or --https with --user: the primary process. It binds
// nothing by hand and serves no request: it starts N gateways (node:cluster workers, each the whole
// gateway of src/gateway.ts on a share of the pool, see src/gateways.ts) and
// lends them the listening sockets. node:cluster's shared handles do that: the
// primary makes each socket when the first gateway asks for it, every gateway
// accepts on it (SCHED_NONE: the kernel, not the primary, hands out the
// connections), and it stays open while any gateway holds it, so a gateway that
// dies costs only its own connections, and its replacement takes the socket
// the others still hold. Where Node has reusePort and no --user is given, each
// gateway binds a TCP port itself instead, in an SO_REUSEPORT group, which
// spreads connections evenly (see Member.reusePort). Then the primary:
//   - supervises: a gateway that exits is replaced, at once the first time and
//     after 1, 2, 4 … 30 s while replacements keep dying young;
//   - relays signals (SIGHUP, SIGUSR1, SIGTTIN/SIGTTOU to one gateway in turn) as
//     signals, so a gateway does what a lone one does; SIGTERM and SIGINT as a
//     message (see Gateway.installSignals);
//   - serves --control (the pools of every gateway in one table, reload to all)
//     and --metrics (every gateway's registry, summed by prom-client), and the
//     --reload / --touch-reload watchers;
//   - drops privileges (--user) once every gateway has bound and dropped its own;
//     with --https it keeps root instead, to re-read the certificate on SIGHUP
//     (certbot's renewed key is root's, 0600) and send it to the gateways, as
//     nginx's master does for its workers. That is why --https --user runs a
//     primary even for one gateway. It runs no app code and parses no request:
//     what it serves is --control (root may talk to it) and --metrics;
//   - claims every unix socket path before the first gateway binds it (a live
//     socket there is "address already in use") and publishes each socket the
//     gateways' shared handle binds under a private name (src/listeners/bind.ts).
// Each gateway writes the log and the access log itself (whole lines, each in
// one write: O_APPEND for files, at most PIPE_BUF at a time for pipes).

import cluster, { type Worker } from 'node:cluster';
import { lstatSync, unlinkSync } from 'node:fs';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Config } from './config/resolve.js';
import { banner, becomeUser, bindSideSockets, openLogs, runtimeAdvice, socketOwner, watchForChanges, type Logs } from './gateway.js';
import { checkProbePaths, checkSocketPaths, unixSockets, warnOpenFiles } from './preflight.js';
import { memberEnv, type Ask, type Tell } from './gateways.js';
import { canReusePort, claimSocketPath, privateName, publishSocket } from './listeners/bind.js';
import { readCertificate } from './config/check.js';
import { ConfigCheckError, StartError, codes } from './errors.js';
import { handOver } from './privileges.js';
import type { Logger } from './log.js';
import { checkPidFile, writePidFile } from './pid-file.js';
import { forgetActivation } from './socket-activation.js';
import type { PoolStatus } from './workers/pool-status.js';

/** How long the primary waits for a gateway's answer (status, metrics) before leaving it out. */
const ASK_TIMEOUT_MS = 2000;
/** A gateway that dies within this long of being ready counts as dying young: its replacement waits longer. */
const YOUNG_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

/** One gateway's place: the process in it now (null between one and the next). */
interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  readyAt: number;
  /** Replacements in a row that died young. */
  failures: number;
  respawn: NodeJS.Timeout | null;
}

export class Primary {
  private readonly slots: Slot[];
  private readonly log: Logger;
  /** The word every gateway was told when stopping began (null: not stopping): said again to one that was still starting then. */
  private stopWord: Ask | null = null;

  private get stopping(): boolean {
    return this.stopWord !== null;
  }
  private asks = 0;
  private readonly pending = new Map<number, (tell: Tell) => void>();
  /** Which gateway the next SIGTTIN/SIGTTOU goes to. */
  private nextScale = 0;
  private readonly registry = new Registry();
  private readonly restarts: Counter;
  /** Settles the start: every gateway ready, or the exit status of one that failed first. */
  private boot: { ready: () => void; failed: (status: number) => void } | null = null;
  /** The exit status once every gateway is gone: 0 after a stop, a failed gateway's at start. */
  private exitWhenStopped = 0;

  private constructor(
    private readonly config: Readonly<Config>,
    private readonly logs: Logs,
  ) {
    this.log = logs.log;
    this.slots = Array.from({ length: config.gateways }, (_, index) => ({
      index,
      worker: null,
      ready: false,
      readyAt: 0,
      failures: 0,
      respawn: null,
    }));
    const registers = [this.registry];
    const slots = this.slots;
    new Gauge({
      name: 'warpipe_gateways',
      help: 'Gateway processes serving now (--gateways).',
      registers,
      collect() {
        this.set(slots.filter((s) => s.ready).length);
      },
    });
    this.restarts = new Counter({
      name: 'warpipe_gateway_restarts_total',
      help: 'Gateway processes replaced after they exited without being asked to.',
      registers,
    });
  }

  /** Whether `config` runs a primary: several gateways, or --https with --user (the certificate is re-read as root). */
  static needed(config: Readonly<Config>): boolean {
    return config.gateways > 1 || Primary.keepsRoot(config);
  }

  /** With --https and --user the primary keeps root, to re-read the key on SIGHUP. */
  private static keepsRoot(config: Readonly<Config>): boolean {
    return config.https.length > 0 && config.identity !== null && process.getuid!() === 0;
  }

  /** Start `config.gateways` gateways; resolves once all serve (one that fails to start stops the rest: exit with its status). */
  static async start(config: Readonly<Config>): Promise<Primary> {
    forgetActivation(process.env); // config.inherited has them; the gateways are told which by memberEnv
    checkSocketPaths(config);
    checkProbePaths(config);
    const logs = openLogs(config, false);
    const { log } = logs;
    log.info(banner(config));
    for (const warning of config.warnings) log.warning(warning);
    const advice = runtimeAdvice();
    if (advice) log.warning(advice);
    warnOpenFiles(config, log);
    if (config.pidFile) checkPidFile(config.pidFile, log);
    const primary = new Primary(config, logs);
    await primary.claimSockets(); // before the first gateway binds one: the gateways must not
    const side = await bindSideSockets(config, log, () => primary.metrics(), {
      status: () => primary.status(),
      reload: () => primary.reload(),
    });
    primary.installSignals();
    cluster.schedulingPolicy = cluster.SCHED_NONE; // before setupPrimary, which freezes it
    cluster.setupPrimary({ silent: false });
    cluster.on('message', (worker, message: Tell) => primary.heard(worker, message));
    cluster.on('exit', (worker, code, signal) => primary.exited(worker, code, signal));
    cluster.on('listening', (_worker, address) => primary.publish(address.address));
    const where = await primary.startAll();
    if (config.pidFile) writePidFile(config.pidFile); // once every gateway has bound (and serves)
    if (Primary.keepsRoot(config)) {
      handOver(
        config.identity!,
        logs.files.flatMap((f) => (f.path !== '-' ? [f.path] : [])),
      );
      log.info(`the gateways and workers run as ${config.identity!.name}; the primary keeps root to re-read the certificate on SIGHUP`);
    } else becomeUser(config, logs);
    for (const line of [...where, ...side]) log.info(line);
    const workers = config.workers;
    const n = config.gateways;
    log.info(`${workers} worker${workers > 1 ? 's' : ''} ready in ${n} gateway${n > 1 ? 's' : ''}`);
    watchForChanges(config, log, () => primary.reload());
    return primary;
  }

  /** The listeners' unix sockets, by the private name the gateways bind them under (see bind.ts). */
  private readonly sockets = new Map<string, string>();

  /** Every listener's unix socket path free for ours, or the start fails as a lone gateway's would (bind.ts claimSocketPath). */
  private async claimSockets(): Promise<void> {
    for (const path of unixSockets(this.config)) {
      try {
        await claimSocketPath(path);
      } catch (err) {
        const why = `cannot listen on ${path}: ${(err as Error).message}`;
        throw err instanceof ConfigCheckError ? new ConfigCheckError(why) : new StartError(codes.LISTEN_FAILED, why, 500, { cause: err });
      }
      const temp = privateName(path, process.pid);
      if (lstatSync(temp, { throwIfNoEntry: false })?.isSocket()) unlinkSync(temp); // a killed primary's of this pid
      this.sockets.set(temp, path);
    }
  }

  /** A gateway listens on `address`: if node:cluster just bound it under its private name, give it its mode and owner, put it in place. */
  private publish(address: string | null | undefined): void {
    const path = address ? this.sockets.get(address) : undefined;
    if (!address || path === undefined) return;
    try {
      publishSocket(address, path, this.config.socketMode, socketOwner(this.config));
    } catch (err) {
      this.log.error(`cannot listen on ${path}: ${(err as Error).message}`);
      if (this.boot) this.boot.failed(1);
    }
  }

  /** The first ready gateway's "listening on" lines (they all listen on the same sockets). */
  private readonly where: string[] = [];

  /** Fork every gateway; resolves with where they listen once all are ready (a failure exits: see abandon). */
  private startAll(): Promise<string[]> {
    return new Promise((resolve) => {
      let waiting = this.slots.length;
      this.boot = {
        ready: () => {
          if (--waiting > 0) return;
          this.boot = null;
          resolve(this.where);
        },
        failed: (status) => this.abandon(status),
      };
      for (const slot of this.slots) this.fork(slot);
    });
  }

  private fork(slot: Slot): void {
    slot.respawn = null;
    slot.ready = false;
    const inherited = this.config.inherited;
    const reusePort = canReusePort() && this.config.identity === null;
    const member = { index: slot.index, count: this.slots.length, reusePort };
    slot.worker = cluster.fork(memberEnv(member, inherited, this.config.configText));
  }

  private slotOf(worker: Worker): Slot | undefined {
    return this.slots.find((s) => s.worker === worker);
  }

  private heard(worker: Worker, message: Tell): void {
    if (message.type !== 'ready') return this.pending.get(message.id)?.(message);
    const slot = this.slotOf(worker);
    if (!slot) return;
    // told to stop while it was starting, before it listened for our word (which was then lost): again
    if (this.stopWord !== null) return void worker.send(this.stopWord, undefined, {}, () => {});
    slot.ready = true;
    slot.readyAt = Date.now();
    if (this.where.length === 0) this.where.push(...message.where);
    if (this.boot) return this.boot.ready();
    this.log.info(
      `gateway ${slot.index + 1} (pid ${worker.process.pid}) serves, ${message.workers} worker${message.workers === 1 ? '' : 's'}`,
    );
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.slotOf(worker);
    if (!slot) return;
    slot.worker = null;
    const wasReady = slot.ready;
    slot.ready = false;
    if (this.stopping) return this.maybeStopped();
    if (this.boot) return this.boot.failed(code ?? 1);
    const young = !wasReady || Date.now() - slot.readyAt < YOUNG_MS;
    slot.failures = young ? slot.failures + 1 : 0;
    const delay = slot.failures === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (slot.failures - 1));
    const how = code !== null ? `exited with status ${code}` : `was killed by ${signal}`;
    this.log.warning(
      `gateway ${slot.index + 1} (pid ${worker.process.pid}) ${how}; the others serve on; ` +
        `starting another${delay > 0 ? ` in ${delay / 1000}s` : ''}`,
    );
    this.restarts.inc();
    slot.respawn = setTimeout(() => this.fork(slot), delay);
  }

  /** A gateway failed to start: stop the others, then exit with its status (it said why). */
  private abandon(status: number): void {
    if (this.stopping) return;
    this.boot = null;
    // 3: the app did not import; 2: what a gateway checks itself was refused (a --middleware module): said by the gateway
    this.exitWhenStopped = status === 3 || status === 2 ? status : 1;
    this.tellAll({ type: 'stop', signal: 'a gateway failed to start', now: false });
    this.maybeStopped();
  }

  private maybeStopped(): void {
    if (this.slots.some((s) => s.worker !== null)) return;
    if (this.exitWhenStopped === 0) this.log.info('stopped');
    process.exit(this.exitWhenStopped);
  }

  private live(): (Slot & { worker: Worker })[] {
    return this.slots.filter((s): s is Slot & { worker: Worker } => s.worker !== null && s.ready && s.worker.isConnected());
  }

  /** Ask every serving gateway; the answers that came within ASK_TIMEOUT_MS, with their slots. */
  private askAll(type: 'status' | 'metrics'): Promise<{ slot: Slot; tell: Tell }[]> {
    return Promise.all(
      this.live().map(
        (slot) =>
          new Promise<{ slot: Slot; tell: Tell } | null>((resolve) => {
            const id = ++this.asks;
            const timer = setTimeout(() => answered(null), ASK_TIMEOUT_MS);
            const answered = (tell: Tell | null): void => {
              clearTimeout(timer);
              this.pending.delete(id);
              resolve(tell && { slot, tell });
            };
            this.pending.set(id, answered);
            slot.worker.send({ type, id } satisfies Ask, undefined, {}, (err) => err && answered(null));
          }),
      ),
    ).then((answers) => answers.filter((a) => a !== null));
  }

  /** The pools of every gateway as one (`warpipe status`). */
  async status(): Promise<PoolStatus> {
    const answers = await this.askAll('status');
    const status: PoolStatus = {
      generation: 0,
      minWorkers: 0,
      maxWorkers: 0,
      queued: 0,
      gateways: this.slots.map((s) => s.worker?.process.pid ?? 0),
      workers: [],
    };
    for (const { slot, tell } of answers) {
      if (tell.type !== 'status') continue;
      const s = tell.status;
      status.generation = Math.max(status.generation, s.generation);
      status.minWorkers += s.minWorkers;
      status.maxWorkers += s.maxWorkers;
      status.queued += s.queued;
      status.workers.push(...s.workers.map((w) => ({ gateway: slot.index + 1, ...w })));
    }
    return status;
  }

  /** Every gateway's metrics, summed (what each says of itself: see each metric's aggregator), and the primary's own. */
  private async metrics(): Promise<string> {
    const answers = await this.askAll('metrics');
    const all = [await this.registry.getMetricsAsJSON(), ...answers.flatMap(({ tell }) => (tell.type === 'metrics' ? [tell.metrics] : []))];
    return AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  /** A reload of every gateway's pool (--control, --reload, --touch-reload; SIGHUP is relayed as itself). */
  reload(): void {
    this.tellAll({ type: 'reload' });
  }

  private tellAll(ask: Ask): void {
    if (ask.type === 'stop') this.stopWord = ask;
    for (const s of this.slots) if (s.worker?.isConnected()) s.worker.send(ask, undefined, {}, () => {});
  }

  /** SIGHUP with --https: read the certificate and key (as root, with --user) and send them to every gateway. */
  private rereadCertificate(): void {
    const { config, log } = this;
    if (config.https.length === 0) return;
    try {
      const { cert, key } = readCertificate(config.certfile, config.keyfile);
      this.tellAll({ type: 'certificate', cert: cert.toString('latin1'), key: key.toString('latin1') });
      log.info(`--https: certificate re-read from ${config.certfile}`);
    } catch (err) {
      log.error(`${(err as Error).message}; keeping the certificate already loaded`);
    }
  }

  private relay(signal: NodeJS.Signals, slots: readonly Slot[] = this.slots): void {
    for (const s of slots) s.worker?.process.kill(signal);
  }

  private stop(signal: string): void {
    const now = this.stopping;
    if (now) this.log.warning(`${signal} again: stopping the gateways now`);
    const n = this.slots.filter((s) => s.worker).length;
    if (!now) this.log.info(`${signal}: stopping ${n} gateway${n === 1 ? '' : 's'}`);
    for (const s of this.slots) if (s.respawn) clearTimeout(s.respawn);
    this.tellAll({ type: 'stop', signal, now });
    this.maybeStopped();
  }

  private installSignals(): void {
    const handlers: Record<string, () => void> = {
      SIGTERM: () => this.stop('SIGTERM'),
      SIGINT: () => this.stop('SIGINT'),
      SIGHUP: () => {
        this.rereadCertificate();
        this.relay('SIGHUP');
      },
      SIGTTIN: () => this.scale('SIGTTIN'),
      SIGTTOU: () => this.scale('SIGTTOU'),
      SIGUSR1: () => {
        for (const f of this.logs.files) {
          try {
            f.reopen();
          } catch (err) {
            this.log.error(`${(err as Error).message}; still writing to the old file`);
          }
        }
        this.relay('SIGUSR1');
      },
    };
    for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  }

  /** SIGTTIN/SIGTTOU: one worker more or fewer, in one gateway at a time, in turn. */
  private scale(signal: 'SIGTTIN' | 'SIGTTOU'): void {
    const live = this.live();
    if (live.length === 0) return;
    const slot = live[this.nextScale++ % live.length]!;
    this.relay(signal, [slot]);
  }
}
