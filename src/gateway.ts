// Starting a gateway from a resolved Config (src/config/resolve.ts), as a list
// of steps: open the logs, build the apps, build the listeners, bind, drop
// privileges, install the signal table, start the pool, watch for changes
// (--reload, --touch-reload). The config was checked
// whole before the first step, so what can still fail here is the machine
// (a log file that cannot be opened, a taken port, a user we cannot become) or
// the app (it does not import). Each failure is thrown, and `cli.ts` turns it
// into an exit code: ConfigError 2, StartError 1, WorkerError 3.
//
// Nothing claims to serve before it can: the sockets are bound before any
// Python starts (a taken port fails at once, and clients queue while the app
// imports), but "listening on" is said once the workers are ready, so an app
// that does not import is never announced as served.

import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, resolve } from 'node:path';
import { pythonApp } from './apps/python-app.js';
import { router } from './apps/router.js';
import { staticFiles } from './apps/static.js';
import { fastcgiUpstream } from './apps/fastcgi-upstream.js';
import { cgiScripts } from './apps/cgi.js';
import { streamUpstream } from './apps/stream-upstream.js';
import type { App } from './pipeline/types.js';
import { compression } from './pipeline/compress.js';
import { parseCompress } from './pipeline/codings.js';
import type { Config } from './config/resolve.js';
import { readCertificate } from './config/check.js';
import type { Address } from './address.js';
import { ConfigCheckError, StartError, WorkerError, codes, type GatewayError } from './errors.js';
import { HttpListener, type HttpOptions } from './listeners/http.js';
import { FastcgiListener } from './listeners/fastcgi.js';
import type { Listener, ListenerConnection, ListenerShared } from './listeners/base.js';
import type { SocketOwner } from './listeners/bind.js';
import { ConnectionBudget } from './listeners/budget.js';
import { StreamGatewayListener, scgi, uwsgi } from './listeners/stream-gateway.js';
import { dropPrivileges } from './privileges.js';
import { Logger } from './log.js';
import { LogFile } from './log-file.js';
import { AccessLog, observeAll } from './access-log.js';
import { Metrics, serveMetrics } from './metrics.js';
import { forgetActivation } from './socket-activation.js';
import { Arbiter, type ArbiterOptions } from './workers/arbiter.js';
import { formatStatus, listenControl, type Controlled } from './control.js';
import { watchSources } from './watch.js';
import { memberConfig, type Ask, type Member, type Tell } from './gateways.js';
import { importAll, wrapApp, type Piece } from './middleware.js';
import { warmupRequests, type WarmupServer } from './apps/warmup.js';
import { checkProbePaths, checkSocketPaths, warnOpenFiles } from './preflight.js';
import type { HealthOptions } from './listeners/http-health.js';
import { checkPidFile, writePidFile } from './pid-file.js';

export const version: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** The gateway's log, and the files under it (--log-file, --access-log) that SIGUSR1 reopens. */
export interface Logs {
  log: Logger;
  logFile: LogFile | null;
  access: AccessLog | null;
  files: LogFile[];
}

/** One listener per protocol; each binds every address given for it. */
export interface Listeners {
  http: HttpListener;
  /** --https: the same HTTP/1.1 inside TLS. */
  https: HttpListener | null;
  fastcgi: FastcgiListener;
  scgi: StreamGatewayListener;
  uwsgi: StreamGatewayListener;
}

/** What a program that embeds the gateway decides (src/embed.ts); the command line leaves each unset. */
export interface Host {
  /** The middleware around the whole app chain, outermost first (default: the --middleware modules, imported). */
  middleware?: readonly Piece[];
  /** Install the signal table (default true; an embedding program keeps its signals). */
  signals?: boolean;
  /** Where the log's lines go without --log-file (default: stderr). */
  logSink?: (line: string) => void;
}

/** What a start made so far: let go of if a later step fails. */
interface Made {
  pool: Arbiter | null;
  listeners: Listeners | null;
}

/** A failed start: stop the pool (its timer), close what was bound and drop what was accepted. */
function letGo(made: Made): void {
  void made.pool?.stop(0);
  for (const l of made.listeners ? Object.values(byName(made.listeners)) : []) {
    void l.close();
    l.destroyAll();
  }
}

export class Gateway {
  private stopping = false;
  /** Stops the --reload and --touch-reload watchers. */
  private unwatch: () => void = () => {};

  private constructor(
    readonly config: Readonly<Config>,
    readonly log: Logger,
    private readonly logs: Logs,
    readonly pool: Arbiter,
    readonly listeners: Listeners,
  ) {}

  /**
   * Start serving `config`; resolves once the workers are ready. As one of
   * --gateways N (`member`), on its share of the pool and the limits: the
   * primary binds the sockets, says where they are and serves --control and
   * --metrics, and this gateway answers its questions (src/gateways.ts).
   */
  static async start(whole: Readonly<Config>, member: Member | null = null, host: Host = {}): Promise<Gateway> {
    const made: Made = { pool: null, listeners: null };
    try {
      return await Gateway.boot(whole, member, host, made);
    } catch (err) {
      letGo(made); // the command line exits anyway; a program that embeds the gateway goes on without it
      throw err;
    }
  }

  /** start()'s steps; what they made so far is in `made`, for start() to let go of when a later one fails. */
  private static async boot(whole: Readonly<Config>, member: Member | null, host: Host, made: Made): Promise<Gateway> {
    forgetActivation(process.env); // the workers must not take systemd's sockets for theirs
    const config = member ? memberConfig(whole, member) : whole;
    if (!member) checkSocketPaths(config);
    checkProbePaths(config);
    const middleware = host.middleware ?? (await importAll(config.middleware, config.chdir || process.cwd()));
    const logs = openLogs(config, true, host.logSink);
    const { log } = logs;
    if (!member) {
      log.info(banner(config));
      for (const warning of config.warnings) log.warning(warning);
      const advice = runtimeAdvice();
      if (advice) log.warning(advice);
    }
    const pool = new Arbiter(
      poolOptions(config, log, () => firstServer(listeners)),
      log,
    );
    made.pool = pool;
    const app = buildApps(config, pool, log, middleware);
    const budget = new ConnectionBudget({ maxConnections: config.maxConnections, maxPerIp: config.maxConnectionsPerIp });
    const metrics = config.metrics ? new Metrics({ pool, budget, version, listeners: () => byName(listeners) }) : null;
    const health = config.health ? { path: config.health, pool } : null;
    const listeners = buildListeners(config, app, log, { budget, observer: observeAll([logs.access, metrics]) }, health);
    made.listeners = listeners;
    if (!member) warnOpenFiles(config, log);
    if (!member && config.pidFile) checkPidFile(config.pidFile, log);
    const where = await bindListeners(config, listeners, member?.reusePort ?? false);
    if (!member) where.push(...(await bindSideSockets(config, log, metrics && (() => metrics.registry.metrics()), pool)));
    if (!member && config.pidFile) writePidFile(config.pidFile); // the primary writes it for --gateways N
    becomeUser(config, logs, member === null);
    const gateway = new Gateway(config, log, logs, pool, listeners);
    if (host.signals !== false) gateway.installSignals(member !== null); // before the pool boots: a SIGTERM then drains too
    if (member) answerPrimary(gateway, metrics);
    await startPool(pool, log);
    if (member) {
      tell({ type: 'ready', where, workers: pool.workers.size });
      return gateway;
    }
    for (const line of where) log.info(line);
    log.info(`${pool.workers.size} worker${pool.workers.size > 1 ? 's' : ''} ready`);
    gateway.unwatch = watchForChanges(config, log, () => pool.reload());
    return gateway;
  }

  /** Every listener, for draining. */
  private get all(): Listener<ListenerConnection>[] {
    return Object.values(byName(this.listeners));
  }

  /** Stop taking connections, let the open ones finish within --graceful-timeout, then stop the workers. */
  async stop(signal: string): Promise<void> {
    const { config, log, pool } = this;
    this.stopping = true;
    this.unwatch(); // no reload while draining
    const started = Date.now();
    const listeners = this.all;
    const open = listeners.reduce((n, l) => n + l.connections.size, 0);
    log.info(`${signal}: draining ${open} connection(s), grace ${config.gracefulTimeout}s`);
    let cut = 0;
    const grace = setTimeout(() => (cut = this.cutOff(listeners)), config.gracefulTimeout * 1000);
    await Promise.all(listeners.map((l) => l.close()));
    clearTimeout(grace);
    const left = Math.max(0, config.gracefulTimeout - (Date.now() - started) / 1000);
    await pool.stop(left);
    if (cut > 0)
      log.warning(`stopped, after cutting off ${cut} request${cut > 1 ? 's' : ''} (--graceful-timeout ${config.gracefulTimeout}s)`);
    else log.info('stopped');
  }

  /**
   * The drain's grace ran out: whatever is still in flight is cut off, and said (count and requests). HTTP
   * answers a 503 where no head has left yet and marks the access-log line ($cut); the other listeners'
   * connections are closed (their web server in front answers its client).
   */
  private cutOff(listeners: Listener<ListenerConnection>[]): number {
    const cut: string[] = [];
    let others = 0;
    for (const l of listeners) {
      if (l instanceof HttpListener) cut.push(...l.cutAll());
      else {
        others += l.connections.size;
        l.destroyAll();
      }
    }
    const n = cut.length + others;
    if (n === 0) return 0;
    const named = cut.slice(0, 5).join(', ') + (cut.length > 5 ? ', ...' : '');
    const rest = others > 0 ? `${named ? '; ' : ''}${others} FastCGI/SCGI/uwsgi connection${others > 1 ? 's' : ''}` : '';
    this.log.warning(
      `--graceful-timeout ${this.config.gracefulTimeout}s ran out: cutting off ${n} request${n > 1 ? 's' : ''} still in progress ` +
        `(${named}${rest})`,
    );
    return n;
  }

  /**
   * SIGHUP (or `why`): a graceful reload, and --https re-reads its certificate (`rereadCertificate`). A gateway of
   * several does not: its primary reads it, as root if need be, and sends it (`setCertificate`, src/primary.ts).
   */
  reload(why = 'SIGHUP', rereadCertificate = true): void {
    const { config, log } = this;
    log.info(`${why}: reloading`);
    const https = this.listeners.https;
    if (https && rereadCertificate) {
      try {
        const fresh = readCertificate(config.certfile, config.keyfile);
        https.setCertificate(fresh.cert, fresh.key);
        log.info(`--https: certificate re-read from ${config.certfile}`);
      } catch (err) {
        log.error(`${(err as Error).message}; keeping the certificate already loaded`);
      }
    }
    this.pool.reload();
  }

  /** SIGUSR1: logrotate's postrotate moved the files away; write new ones at their paths. Then the pool's table. */
  reopenLogs(): void {
    for (const f of this.logs.files) {
      try {
        f.reopen();
      } catch (err) {
        this.log.error(`${(err as Error).message}; still writing to the old file`);
      }
    }
    this.log.info(`status:\n${formatStatus(this.pool.status())}`);
  }

  /** SIGTERM, SIGINT: drain and exit; a second time (or `now`), kill the workers and exit at once. */
  shutdown(signal: string, now = this.stopping): void {
    if (now) {
      this.log.warning(`${signal} again: stopping now`);
      for (const w of this.pool.workers) w.kill('SIGKILL');
      process.exit(1);
    }
    if (this.stopping) return;
    void this.stop(signal).then(() => process.exit(0));
  }

  /**
   * The signal table. A gateway of several leaves SIGINT to the primary (Ctrl-C reaches the whole process
   * group), and a second SIGTERM too (systemd sends one to every process of the unit, and the primary relays
   * its own): only the primary's word stops it at once (src/primary.ts).
   */
  private installSignals(member: boolean): void {
    const shutdown = (signal: string): void => this.shutdown(signal, member ? false : this.stopping);
    const handlers: Record<string, () => void> = {
      SIGTERM: () => shutdown('SIGTERM'),
      SIGINT: () => (member ? undefined : shutdown('SIGINT')),
      SIGHUP: () => this.reload('SIGHUP', !member),
      SIGTTIN: () => this.pool.scaleBy(1),
      SIGTTOU: () => this.pool.scaleBy(-1),
      SIGUSR1: () => this.reopenLogs(),
    };
    for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  }
}

/** To the primary, if it is still there (a gateway whose primary is gone exits: node:cluster sees to that). */
function tell(message: Tell): void {
  if (process.connected) process.send?.(message, undefined, {}, () => {});
}

/** A gateway of several: the primary's questions, over the IPC channel. */
function answerPrimary(gateway: Gateway, metrics: Metrics | null): void {
  process.on('message', (ask: Ask) => {
    if (ask.type === 'status') tell({ type: 'status', id: ask.id, status: gateway.pool.status() });
    else if (ask.type === 'metrics') {
      const { id } = ask;
      void (metrics ? metrics.registry.getMetricsAsJSON() : Promise.resolve([])).then(
        (json) => tell({ type: 'metrics', id, metrics: json }),
        (err: Error) => gateway.log.error(`--metrics: ${err.message}`),
      );
    } else if (ask.type === 'reload')
      gateway.pool.reload(); // the primary said why
    else if (ask.type === 'stop') gateway.shutdown(ask.signal, ask.now);
    else if (ask.type === 'certificate') {
      gateway.listeners.https?.setCertificate(Buffer.from(ask.cert, 'latin1'), Buffer.from(ask.key, 'latin1'));
      gateway.log.info('--https: the certificate the primary read is in use');
    }
  });
}

/** --log-file and --access-log, opened before privileges are dropped (and given to the user, as its sockets are). */
export function openLogs(config: Readonly<Config>, accessToo = true, sink?: (line: string) => void): Logs {
  let logFile: LogFile | null = null;
  let log = new Logger(config.logLevel, sink);
  let access: AccessLog | null = null;
  try {
    if (config.logFile) {
      logFile = new LogFile(config.logFile, true, {
        failing: (f, why) =>
          process.stderr.write(`warpipe: cannot write to the log file ${f.path} (${why}): log lines are lost until it can\n`),
        recovered: (_f, lost, why) => log.warning(`${lost} log line${lost === 1 ? ' was' : 's were'} lost (${why})`),
      });
      const file = logFile;
      log = new Logger(config.logLevel, (line) => file.write(line));
    }
    if (config.accessLog && accessToo) {
      access = new AccessLog(
        new LogFile(config.accessLog, false, {
          failing: (f, why) => log.error(`cannot write to the access log ${f.path} (${why}): request lines are dropped until it can`),
          recovered: (f, lost, why) =>
            log.warning(`the access log ${f.path} is written again; ${lost} line${lost === 1 ? ' was' : 's were'} lost (${why})`),
        }),
        config.accessLine,
      );
    }
  } catch (err) {
    logFile?.close();
    throw new ConfigCheckError((err as Error).message, { cause: err });
  }
  const files = [logFile, access?.file ?? null].filter((f): f is LogFile => f !== null);
  if (files.length > 0) process.once('exit', () => files.forEach((f) => f.close()));
  return { log, logFile, access, files };
}

/** The first line: the app, the pool, the interpreter the workers run (its absolute path and version), Node, the config file. */
export function banner(config: Readonly<Config>): string {
  const size = config.maxWorkers > config.workers ? `${config.workers} to ${config.maxWorkers}` : `${config.workers}`;
  const threads = `${config.threads} thread${config.threads > 1 ? 's' : ''}`;
  const n = config.gateways;
  const auto = config.gatewaysAuto ? ` (--gateways auto, ${availableParallelism()} CPUs)` : '';
  const gateways = n > 1 || auto ? ` in ${n} gateway${n > 1 ? 's' : ''}${auto}` : '';
  return (
    `warpipe ${version}: app ${config.app}, ${size} worker${config.maxWorkers > 1 ? 's' : ''} x ${threads}${gateways}, ` +
    `python ${config.python} (${config.pythonVersion}), node ${process.versions.node}${config.config ? `, config ${config.config}` : ''}`
  );
}

/** The first Node major warpipe recommends: 22 and 24 spend less CPU per request than 20 (docs/deploy.md, "The runtime"). */
export const RECOMMENDED_NODE = 22;

/** A warning for a runtime older than RECOMMENDED_NODE (null: none). */
export function runtimeAdvice(nodeVersion: string = process.versions.node): string | null {
  const major = Number(nodeVersion.split('.')[0]);
  if (major >= RECOMMENDED_NODE) return null;
  return (
    `running on Node ${nodeVersion}, past its end of life; Node ${RECOMMENDED_NODE} and 24 spend 10-20 % less CPU ` +
    `per request (most on new connections): see "The runtime" in docs/deploy.md (WARPIPE_NODE picks the node the warpipe command runs)`
  );
}

/** The settings the pool takes as they are (the names are the same in Config and ArbiterOptions). */
const POOL_SETTINGS = [
  'python',
  'app',
  'threads',
  'validate',
  'workers',
  'maxWorkers',
  'idleTimeout',
  'bootTimeout',
  'pipeline',
  'backlog',
  'queueTimeout',
  'timeout',
  'maxRequests',
  'maxRequestsJitter',
  'maxRss',
  'maxLifetime',
  'preload',
  'interface',
  'loop',
  'asgiConcurrency',
  'gracefulTimeout',
] as const satisfies readonly (keyof ArbiterOptions & keyof Config)[];

function pick<T, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const k of keys) picked[k] = from[k];
  return picked;
}

/** The pool's options from the config (`warpipe check` starts a pool of one with them); `server` names the host warm-ups go to. */
export function poolOptions(config: Readonly<Config>, log: Logger, server: () => WarmupServer = defaultServer): ArbiterOptions {
  return {
    ...pick(config, POOL_SETTINGS),
    // an ASGI app serves on one channel's streams: more channels would sit unused
    threads: config.interface === 'asgi' ? 1 : config.threads,
    warmup: warmupRequests(config.warmup, server),
    cwd: config.chdir || undefined,
    env: workerEnv(config),
    // The workers' own stdout and stderr (print(), a crash, the stacks of a --timeout), each line
    // with the log's prefix and the worker's pid, into the log (--log-file, or the gateway's stderr)
    output: (text, pid) => log.output(text, pid),
  };
}

function workerEnv(config: Readonly<Config>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  for (const [k, v] of config.env) env[k] = v;
  if (config.pythonpath.length > 0) {
    const dirs = config.pythonpath.map((p) => resolve(p));
    env.PYTHONPATH = [...dirs, ...(env.PYTHONPATH ? [env.PYTHONPATH] : [])].join(delimiter);
  }
  return env;
}

/** The router: --static, --cgi and --mount prefixes, the Python pool for the rest; the user's middleware around it all. */
function buildApps(config: Readonly<Config>, pool: Arbiter, log: Logger, middleware: readonly Piece[]): App {
  const serverSoftware = `warpipe/${version}`;
  const timeout = config.upstreamTimeout;
  const mounts: [string, App][] = [
    ...config.static.map(([prefix, dir]): [string, App] => [
      prefix,
      staticFiles(dir, {
        followSymlinks: config.staticFollowSymlinks,
        cacheValidMs: config.staticCacheValid * 1000,
        maxAge: config.staticMaxAge,
        codings: parseCompress(config.compress),
        minSize: config.compressMinSize,
      }),
    ]),
    ...config.cgi.map(([prefix, dir]): [string, App] => [prefix, cgiScripts({ dir, timeout, serverSoftware }, log)]),
  ];
  for (const mount of config.mount) {
    const { prefix, address } = mount;
    mounts.push([
      prefix,
      mount.protocol === 'fastcgi'
        ? fastcgiUpstream(
            { address, split: mount.split, documentRoot: mount.root ?? '', timeout, keepalive: config.upstreamKeepalive },
            log,
          )
        : streamUpstream({ protocol: mount.protocol, address, timeout }, log),
    ]);
  }
  return wrapApp(middleware, router(mounts, pythonApp(pool, log, { bufferResponse: config.bufferResponse })));
}

function buildListeners(config: Readonly<Config>, app: App, log: Logger, shared: ListenerShared, health: HealthOptions | null): Listeners {
  const maxBodyBytes = config.limitRequestBody === 0 ? Infinity : config.limitRequestBody;
  // what every listener's options share
  const common = {
    bufferRequestBody: config.bufferRequestBody,
    bufferResponse: config.bufferResponse,
    headerTimeout: config.headerTimeout,
    bodyTimeout: config.bodyTimeout,
    sendTimeout: config.sendTimeout,
    minUploadRate: config.minUploadRate,
  };
  const http: HttpOptions = {
    ...common,
    limits: {
      maxRequestLine: config.limitRequestLine,
      maxHeaderFields: config.limitRequestFields,
      maxFieldSize: config.limitRequestFieldSize,
      maxHeaderBytes: config.limitRequestHeaders,
      maxBodyBytes,
      maxChunkLine: 4096,
    },
    websocket: {
      maxMessage: config.websocketMaxMessage,
      pingInterval: config.websocketPingInterval,
      pingTimeout: config.websocketPingTimeout,
    },
    spoolRequestBody: config.spoolRequestBody,
    spoolDir: config.spoolDir,
    keepaliveTimeout: config.keepaliveTimeout,
    serverSoftware: `warpipe/${version}`,
    trustedProxies: config.trustedProxies ?? undefined,
    proxyProtocol: config.proxyProtocol,
    health: health ?? undefined,
    http2: config.http2 === 'off' ? undefined : { maxStreams: config.http2MaxStreams, maxResets: config.http2MaxResets },
  };
  const gateway = { ...common, maxBodyBytes, maxHeadBytes: config.limitRequestHeaders };
  // --compress: on HTTP only; behind nginx (FastCGI, SCGI, uwsgi) nginx's gzip compresses (docs/deploy.md, "Compression")
  const web = compression({ codings: parseCompress(config.compress), minSize: config.compressMinSize })(app);
  return {
    http: new HttpListener(web, http, log, shared),
    // a PROXY header would come before the TLS handshake: --http only
    https: config.certificate ? new HttpListener(web, { ...http, proxyProtocol: false, tls: config.certificate }, log, shared) : null,
    fastcgi: new FastcgiListener(
      app,
      {
        ...common,
        maxBodyBytes,
        maxParamsBytes: config.limitRequestHeaders,
        maxRequests: 64,
        // longer than nginx keeps an idle upstream connection (keepalive_timeout 60s), so nginx closes first
        idleTimeout: Math.max(config.keepaliveTimeout, 75),
      },
      log,
      shared,
    ),
    scgi: new StreamGatewayListener(scgi, app, gateway, log, shared),
    uwsgi: new StreamGatewayListener(uwsgi, app, gateway, log, shared),
  };
}

/** Where warm-ups say they go when there is no HTTP listener (or none yet). */
const defaultServer = (): WarmupServer => ({ name: 'localhost', port: '80', scheme: 'http', serverSoftware: `warpipe/${version}` });

/** Where the warm-up requests say they were sent: the first HTTP(S) listener, once bound. */

function firstServer(listeners: Listeners): WarmupServer {
  const serverSoftware = `warpipe/${version}`;
  for (const l of [listeners.http, listeners.https]) {
    const a = l?.servers[0]?.address();
    if (!l || !a) continue;
    if (typeof a === 'string' || a.address === '0.0.0.0' || a.address === '::') {
      return { name: 'localhost', port: typeof a === 'string' ? '' : String(a.port), scheme: l.scheme, serverSoftware };
    }
    return { name: a.family === 'IPv6' ? `[${a.address}]` : a.address, port: String(a.port), scheme: l.scheme, serverSoftware };
  }
  return defaultServer();
}

function byName(listeners: Listeners): Record<string, Listener<ListenerConnection>> {
  const { https, ...rest } = listeners;
  return https ? { ...rest, https } : rest;
}

/** `HOST:PORT` or the socket's path, for the line that says why it cannot be bound. */
function bindName(address: Address): string {
  return address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
}

function cannotBind(what: string, err: unknown): GatewayError {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof ConfigCheckError) return new ConfigCheckError(`${what}: ${e.message}`, { cause: err }); // no such directory: exit 2
  const why = e.code !== 'EADDRINUSE' ? e.message : e.message.startsWith('address already in use') ? e.message : 'address already in use';
  return new StartError(codes.LISTEN_FAILED, `${what}: ${why}`, 500, { cause: err });
}

/**
 * Bind every listener: systemd's sockets, then the addresses given. Resolves with the lines to log once serving.
 * `reusePort`: a gateway of several binds its TCP ports itself, in an SO_REUSEPORT group (src/gateways.ts).
 */
async function bindListeners(config: Readonly<Config>, listeners: Listeners, reusePort: boolean): Promise<string[]> {
  const lines: string[] = [];
  for (const { fd, kind } of config.inherited) {
    try {
      lines.push(`listening on ${await listeners[kind].listen({ kind: 'fd', fd }, config.socketMode)} (descriptor ${fd} from systemd)`);
    } catch (err) {
      throw new StartError(
        codes.LISTEN_FAILED,
        `cannot listen on descriptor ${fd} from systemd (${kind}): ${(err as Error).message}`,
        500,
        { cause: err },
      );
    }
  }
  const binds: [readonly Address[], Listener<ListenerConnection> | null][] = [
    [config.http, listeners.http],
    [config.https, listeners.https],
    [config.fastcgi, listeners.fastcgi],
    [config.scgi, listeners.scgi],
    [config.uwsgi, listeners.uwsgi],
  ];
  for (const [addresses, listener] of binds) {
    for (const address of addresses) {
      try {
        lines.push(`listening on ${await listener!.listen(address, config.socketMode, reusePort, socketOwner(config))}`);
      } catch (err) {
        throw cannotBind(`cannot listen on ${bindName(address)}`, err);
      }
    }
  }
  return lines;
}

/** --metrics (answered with `metrics()`) and --control: sockets of their own. Resolves with the lines to log once serving. */
export async function bindSideSockets(
  config: Readonly<Config>,
  log: Logger,
  metrics: (() => Promise<string>) | null,
  controlled: Controlled,
): Promise<string[]> {
  const lines: string[] = [];
  if (metrics && config.metrics) {
    try {
      lines.push(`metrics on ${await serveMetrics(config.metrics, config.socketMode, log, metrics, socketOwner(config))}`);
    } catch (err) {
      throw cannotBind(`cannot serve --metrics on ${bindName(config.metrics)}`, err);
    }
  }
  if (config.control) {
    const path = config.control;
    try {
      await listenControl(path, controlled, log, config.identity);
    } catch (err) {
      throw cannotBind(`cannot serve the control socket on ${path}`, err);
    }
    lines.push(`control socket on ${path}`);
  }
  return lines;
}

/** --touch-reload and --reload: `reload()` when the file is touched, or a source changes. Returns what stops watching. */
export function watchForChanges(config: Readonly<Config>, log: Logger, reload: () => void): () => void {
  const stops: (() => void)[] = [];
  if (config.touchReload) stops.push(watchTouchFile(config.touchReload, reload, log));
  if (config.reload) {
    const base = config.chdir || process.cwd();
    stops.push(
      watchSources([base, ...config.pythonpath], base, config.reloadExtra, (path) => {
        log.info(`${path} changed: reloading`);
        reload();
      }),
    );
    log.info(`--reload: watching ${base}${config.pythonpath.length ? ` and ${config.pythonpath.join(', ')}` : ''} for changes`);
  }
  return () => stops.forEach((stop) => stop());
}

/**
 * Who the listeners' unix sockets (and --metrics's) are given to: --socket-owner, else --user/--group (null: nobody,
 * they stay the server's). --control is always the server's own user's (`config.identity`), mode 0600.
 */
export function socketOwner(config: Readonly<Config>): SocketOwner | null {
  return config.socketOwner ?? config.identity;
}

/**
 * --user/--group: hand over the log files, then become that user (before any worker starts). The unix sockets were
 * given to their owners as they were bound (src/listeners/bind.ts).
 */
export function becomeUser(config: Readonly<Config>, logs: Logs, say = true): void {
  const identity = config.identity;
  if (!identity) return;
  const owned = logs.files.flatMap((f) => (f.path !== '-' ? [f.path] : []));
  try {
    dropPrivileges(identity, owned);
  } catch (err) {
    throw new StartError(codes.PRIVILEGES, `cannot become ${identity.name}: ${(err as Error).message}`, 500, { cause: err });
  }
  if (say) logs.log.info(`running as ${identity.name}`);
}

/** Boot the workers; a boot failure is logged with its traceback, then thrown as a WorkerError. */
async function startPool(pool: Arbiter, log: Logger): Promise<void> {
  try {
    await pool.start();
  } catch (err) {
    log.error(`the app failed to start:\n${(err as Error).message}`);
    throw err instanceof WorkerError ? err : new WorkerError(codes.WORKER_BOOT, (err as Error).message, 500, { cause: err });
  }
}

/** Reload whenever `path` is modified or touched (polled once a second: works on every filesystem). Returns what stops it. */
function watchTouchFile(path: string, reload: () => void, log: Logger): () => void {
  watchFile(path, { interval: 1000 }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs && now.mtimeMs !== 0) {
      log.info(`${path} was touched: reloading`);
      reload();
    }
  });
  process.once('exit', () => unwatchFile(path));
  return () => unwatchFile(path);
}
