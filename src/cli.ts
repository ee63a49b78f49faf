#!/bin/sh
//usr/bin/env true; exec node --max-semi-space-size=8 "$0" "$@"
// (Run as the `warpipe` command, the line above is shell: it starts Node with
// a young generation capped at 8 MiB per semi-space. Node's default of 16 MiB
// grows the gateway to ~84 MiB RSS under load for no measurable speed; at 8 it
// stays ~71 MiB and is as fast. To JavaScript the line is a comment.
// `node dist/src/cli.js` also works, with Node's defaults.)
//
// The one place that wires config, listeners, apps and workers together.
// Exit codes: 0 clean shutdown, 1 runtime failure (cannot bind), 2 bad
// arguments, 3 the app failed to boot (gunicorn's WORKER_BOOT_ERROR).

import { existsSync, readFileSync, statSync, unlinkSync, unwatchFile, watchFile } from 'node:fs';
import { tmpdir } from 'node:os';
import tls from 'node:tls';
import { delimiter, resolve } from 'node:path';
import { pythonApp } from './apps/python-app.js';
import { router } from './apps/router.js';
import { staticFiles } from './apps/static.js';
import { fastcgiUpstream } from './apps/fastcgi-upstream.js';
import { cgiScripts } from './apps/cgi.js';
import { streamUpstream } from './apps/stream-upstream.js';
import type { App } from './pipeline/types.js';
import { helpText, loadConfig, type Config } from './config/load.js';
import type { Address } from './address.js';
import { ConfigError, WorkerError } from './errors.js';
import { HttpListener, type HttpOptions } from './listeners/http.js';
import { FastcgiListener } from './listeners/fastcgi.js';
import type { Listener, ListenerConnection } from './listeners/base.js';
import { ConnectionBudget } from './listeners/budget.js';
import { StreamGatewayListener, scgi, uwsgi, type GatewayCodec } from './listeners/stream-gateway.js';
import { dropPrivileges, lookupIdentity, type Identity } from './privileges.js';
import { Logger } from './log.js';
import { LogFile } from './log-file.js';
import { AccessLog, observeAll } from './access-log.js';
import { TrustedProxies } from './pipeline/forwarded.js';
import { Metrics } from './metrics.js';
import { Spool } from './listeners/spool.js';
import { forgetActivation, inheritedSockets, type InheritedSocket } from './socket-activation.js';
import { Arbiter } from './workers/arbiter.js';
import { formatStatus, listenControl, sendControl } from './control.js';
import { watchSources } from './watch.js';

const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;
const EXIT_BOOT = 3;

export const version: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

function fail(message: string, code: number): never {
  process.stderr.write(`warpipe: ${message}\n`);
  process.exit(code);
}

function workerEnv(config: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  for (const [k, v] of config.env) env[k] = v;
  if (config.pythonpath.length > 0) {
    const dirs = config.pythonpath.map((p) => resolve(p));
    env.PYTHONPATH = [...dirs, ...(env.PYTHONPATH ? [env.PYTHONPATH] : [])].join(delimiter);
  }
  return env;
}

/** --log-file and --access-log, opened before privileges are dropped (and given to the user, as its sockets are). */
function openLogs(config: Readonly<Config>): { log: Logger; logFile: LogFile | null; access: AccessLog | null } {
  let logFile: LogFile | null = null;
  let log = new Logger(config.logLevel);
  let access: AccessLog | null = null;
  try {
    if (config.logFile) {
      logFile = new LogFile(resolve(config.logFile), true, {
        failing: (f, why) => process.stderr.write(`warpipe: cannot write to the log file ${f.path} (${why}): log lines are lost until it can\n`),
        recovered: (_f, lost, why) => log.warning(`${lost} log line${lost === 1 ? ' was' : 's were'} lost (${why})`),
      });
      const file = logFile;
      log = new Logger(config.logLevel, (line) => file.write(line));
    }
    if (config.accessLog) {
      const path = config.accessLog === '-' ? '-' : resolve(config.accessLog);
      access = new AccessLog(new LogFile(path, false, {
        failing: (f, why) => log.error(`cannot write to the access log ${f.path} (${why}): request lines are dropped until it can`),
        recovered: (f, lost, why) => log.warning(`the access log ${f.path} is written again; ${lost} line${lost === 1 ? ' was' : 's were'} lost (${why})`),
      }), config.accessLogFormat);
    }
  } catch (err) {
    fail((err as Error).message, EXIT_USAGE);
  }
  return { log, logFile, access };
}

async function serve(config: Readonly<Config>): Promise<void> {
  let inherited: InheritedSocket[] = [];
  try {
    inherited = inheritedSockets(process.env, process.pid);
  } catch (err) {
    fail((err as Error).message, EXIT_USAGE);
  }
  forgetActivation(process.env);
  const { log, logFile, access } = openLogs(config);
  const logFiles = [logFile, access?.file ?? null].filter((f): f is LogFile => f !== null);
  process.once('exit', () => logFiles.forEach((f) => f.close()));
  if (config.chdir && !(existsSync(config.chdir) && statSync(config.chdir).isDirectory())) {
    fail(`--chdir ${config.chdir} is not a directory`, EXIT_USAGE);
  }
  const spoolDir = resolve(config.spoolDir || tmpdir());
  if (config.spoolRequestBody > 0) {
    try {
      new Spool(spoolDir).discard();
    } catch (err) {
      fail(`--spool-dir ${spoolDir}: cannot make a file there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT_USAGE);
    }
  }
  // read as root, before privileges drop (a key under /etc/ssl/private)
  const certificate = config.https.length > 0 ? readCertificate(config, (why) => fail(why, EXIT_USAGE)) : null;
  let identity: Identity | null = null;
  try {
    identity = lookupIdentity(config.user, config.group);
  } catch (err) {
    fail((err as Error).message, EXIT_USAGE);
  }
  const size = config.maxWorkers > config.workers ? `${config.workers} to ${config.maxWorkers}` : `${config.workers}`;
  log.info(`warpipe ${version}: app ${config.app}, ${size} worker${config.maxWorkers > 1 ? 's' : ''} x ${config.threads} thread${config.threads > 1 ? 's' : ''}, python ${config.python}`);

  const pool = new Arbiter(
    {
      python: config.python,
      app: config.app,
      threads: config.threads,
      validate: config.validate,
      cwd: config.chdir ? resolve(config.chdir) : undefined,
      env: workerEnv(config),
      workers: config.workers,
      maxWorkers: config.maxWorkers,
      idleTimeout: config.idleTimeout,
      bootTimeout: config.bootTimeout,
      pipeline: config.pipeline,
      backlog: config.backlog,
      queueTimeout: config.queueTimeout,
      timeout: config.timeout,
      maxRequests: config.maxRequests,
      maxRequestsJitter: config.maxRequestsJitter,
      maxRss: config.maxRss,
      maxLifetime: config.maxLifetime,
      preload: config.preload,
      output: logFile ? (text) => logFile.write(text) : undefined,
    },
    log,
  );
  const mounts = config.static.map(([prefix, dir]): [string, App] => {
    if (!prefix.startsWith('/')) fail(`--static ${prefix}=${dir}: the prefix must start with /`, EXIT_USAGE);
    if (!(existsSync(dir) && statSync(dir).isDirectory())) fail(`--static ${prefix}=${dir}: ${dir} is not a directory`, EXIT_USAGE);
    return [prefix, staticFiles(resolve(dir), { followSymlinks: config.staticFollowSymlinks })];
  });
  for (const [prefix, dir] of config.cgi) {
    if (!prefix.startsWith('/')) fail(`--cgi ${prefix}=${dir}: the prefix must start with /`, EXIT_USAGE);
    if (!(existsSync(dir) && statSync(dir).isDirectory())) fail(`--cgi ${prefix}=${dir}: ${dir} is not a directory`, EXIT_USAGE);
    mounts.push([prefix, cgiScripts({ dir: resolve(dir), timeout: config.upstreamTimeout, serverSoftware: `warpipe/${version}` }, log)]);
  }
  for (const mount of config.mount) {
    const { prefix, address } = mount;
    if (mount.protocol !== 'fastcgi') {
      mounts.push([prefix, streamUpstream({ protocol: mount.protocol, address, timeout: config.upstreamTimeout }, log)]);
      continue;
    }
    let root = '';
    if (mount.split !== 'none') {
      root = mount.root ?? config.documentRoot;
      const named = mount.root !== null ? `its root ${root}` : `--document-root ${root}`;
      if (!root) fail(`--mount ${prefix}=fastcgi://… needs --document-root DIR (or ?root=DIR), the directory its scripts are in; ?split=none if the upstream is the app itself`, EXIT_USAGE);
      if (!(existsSync(root) && statSync(root).isDirectory())) fail(`--mount ${prefix}=fastcgi://…: ${named} is not a directory`, EXIT_USAGE);
    }
    mounts.push([prefix, fastcgiUpstream({
      address, split: mount.split, documentRoot: root && resolve(root), timeout: config.upstreamTimeout, keepalive: config.upstreamKeepalive,
    }, log)]);
  }
  const app = router(mounts, pythonApp(pool, log, { bufferResponse: config.bufferResponse }));
  const httpOptions: HttpOptions = {
    limits: {
      maxRequestLine: config.limitRequestLine,
      maxHeaderFields: config.limitRequestFields,
      maxFieldSize: config.limitRequestFieldSize,
      maxHeaderBytes: config.limitRequestHeaders,
      maxBodyBytes: config.limitRequestBody === 0 ? Infinity : config.limitRequestBody,
      maxChunkLine: 4096,
    },
    bufferRequestBody: config.bufferRequestBody,
    spoolRequestBody: config.spoolRequestBody,
    spoolDir,
    bufferResponse: config.bufferResponse,
    headerTimeout: config.headerTimeout,
    bodyTimeout: config.bodyTimeout,
    minUploadRate: config.minUploadRate,
    keepaliveTimeout: config.keepaliveTimeout,
    sendTimeout: config.sendTimeout,
    serverSoftware: `warpipe/${version}`,
    trustedProxies: config.forwardedAllowIps ? new TrustedProxies(config.forwardedAllowIps) : undefined,
    proxyProtocol: config.proxyProtocol,
  };
  const listener = new HttpListener(app, httpOptions, log);
  // --https: the same HTTP/1.1 inside TLS (a PROXY header would come before the handshake: --http only)
  const httpsListener = certificate ? new HttpListener(app, { ...httpOptions, proxyProtocol: false, tls: certificate }, log) : null;

  const fastcgi = new FastcgiListener(
    app,
    {
      bufferRequestBody: config.bufferRequestBody,
      maxBodyBytes: config.limitRequestBody === 0 ? Infinity : config.limitRequestBody,
      bufferResponse: config.bufferResponse,
      maxParamsBytes: config.limitRequestHeaders,
      maxRequests: 64,
      headerTimeout: config.headerTimeout,
      bodyTimeout: config.bodyTimeout,
      sendTimeout: config.sendTimeout,
      minUploadRate: config.minUploadRate,
      // longer than nginx keeps an idle upstream connection (keepalive_timeout 60s), so nginx closes first
      idleTimeout: Math.max(config.keepaliveTimeout, 75),
    },
    log,
  );
  const gateway = (codec: GatewayCodec): StreamGatewayListener => new StreamGatewayListener(codec, app, {
    bufferRequestBody: config.bufferRequestBody,
    maxBodyBytes: config.limitRequestBody === 0 ? Infinity : config.limitRequestBody,
    bufferResponse: config.bufferResponse,
    maxHeadBytes: config.limitRequestHeaders,
    headerTimeout: config.headerTimeout,
    bodyTimeout: config.bodyTimeout,
    sendTimeout: config.sendTimeout,
    minUploadRate: config.minUploadRate,
  }, log);
  const scgiListener = gateway(scgi);
  const uwsgiListener = gateway(uwsgi);
  const listeners = [listener, fastcgi, scgiListener, uwsgiListener, ...(httpsListener ? [httpsListener] : [])];
  const budget = new ConnectionBudget({ maxConnections: config.maxConnections, maxPerIp: config.maxConnectionsPerIp });
  const byKind = { http: listener, fastcgi, scgi: scgiListener, uwsgi: uwsgiListener };
  const metrics = config.metrics ? new Metrics({ pool, budget, version, listeners: httpsListener ? { ...byKind, https: httpsListener } : byKind }) : null;
  const observer = observeAll([access, metrics]);
  for (const l of listeners) {
    l.budget = budget;
    l.observer = observer;
  }
  const files = openFilesLimit();
  if (files !== null && config.maxConnections > 0 && files < config.maxConnections + 64) {
    log.warning(`--max-connections ${config.maxConnections} is more than this process may open (${files} files, ulimit -n): raise it (systemd LimitNOFILE=) or lower --max-connections`);
  }

  // bind first: a taken port fails before any Python starts
  for (const { fd, kind } of inherited) {
    try {
      log.info(`listening on ${await byKind[kind].listen({ kind: 'fd', fd }, config.socketMode)} (descriptor ${fd} from systemd)`);
    } catch (err) {
      fail(`cannot listen on descriptor ${fd} from systemd (${kind}): ${(err as Error).message}`, EXIT_RUNTIME);
    }
  }
  const binds: [Address, Listener<ListenerConnection>][] = [
    ...config.http.map((a): [Address, Listener<ListenerConnection>] => [a, listener]),
    ...config.https.map((a): [Address, Listener<ListenerConnection>] => [a, httpsListener!]),
    ...config.fastcgi.map((a): [Address, Listener<ListenerConnection>] => [a, fastcgi]),
    ...config.scgi.map((a): [Address, Listener<ListenerConnection>] => [a, scgiListener]),
    ...config.uwsgi.map((a): [Address, Listener<ListenerConnection>] => [a, uwsgiListener]),
  ];
  for (const [address, l] of binds) {
    try {
      const where = await l.listen(address, config.socketMode);
      log.info(`listening on ${where}`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const what = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
      fail(`cannot listen on ${what}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`, EXIT_RUNTIME);
    }
  }

  if (metrics && config.metrics) {
    try {
      log.info(`metrics on ${await metrics.listen(config.metrics, config.socketMode, log)}`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const what = config.metrics.kind === 'unix' ? config.metrics.path : `${config.metrics.host}:${config.metrics.port}`;
      fail(`cannot serve --metrics on ${what}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`, EXIT_RUNTIME);
    }
  }

  if (config.control) {
    const path = resolve(config.control);
    try {
      await listenControl(path, pool, log);
    } catch (err) {
      fail(`cannot serve the control socket on ${path}: ${(err as Error).message}`, EXIT_RUNTIME);
    }
    log.info(`control socket on ${path}`);
    process.once('exit', () => removeSocket(path));
  }

  if (identity) {
    const owned = [...config.http, ...config.https, ...config.fastcgi, ...config.scgi, ...config.uwsgi].flatMap((a) => (a.kind === 'unix' ? [resolve(a.path)] : []));
    if (config.control) owned.push(resolve(config.control));
    for (const f of logFiles) if (f.path !== '-') owned.push(f.path);
    try {
      dropPrivileges(identity, owned);
    } catch (err) {
      fail(`cannot become ${identity.name}: ${(err as Error).message}`, EXIT_RUNTIME);
    }
    log.info(`running as ${identity.name}`);
  }

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      log.warning(`${signal} again: stopping now`);
      for (const w of pool.workers) w.kill('SIGKILL');
      process.exit(EXIT_RUNTIME);
    }
    stopping = true;
    const started = Date.now();
    const open = listeners.reduce((n, l) => n + l.connections.size, 0);
    log.info(`${signal}: draining ${open} connection(s), grace ${config.gracefulTimeout}s`);
    const grace = setTimeout(() => listeners.forEach((l) => l.destroyAll()), config.gracefulTimeout * 1000);
    await Promise.all(listeners.map((l) => l.close()));
    clearTimeout(grace);
    const left = Math.max(0, config.gracefulTimeout - (Date.now() - started) / 1000);
    await pool.stop(left);
    log.info('stopped');
    process.exit(0);
  };
  const handlers: Record<string, () => void> = {
    SIGTERM: () => void shutdown('SIGTERM'),
    SIGINT: () => void shutdown('SIGINT'),
    SIGHUP: () => {
      log.info('SIGHUP: reloading');
      if (httpsListener) {
        let ok = true;
        const fresh = readCertificate(config, (why) => {
          ok = false;
          log.error(`${why}; keeping the certificate already loaded`);
        });
        if (ok) {
          httpsListener.setCertificate(fresh.cert, fresh.key);
          log.info(`--https: certificate re-read from ${config.certfile}`);
        }
      }
      pool.reload();
    },
    SIGTTIN: () => pool.scaleBy(1),
    SIGTTOU: () => pool.scaleBy(-1),
    SIGUSR1: () => {
      // logrotate's postrotate: the files are moved away; write new ones at their paths
      for (const f of logFiles) {
        try {
          f.reopen();
        } catch (err) {
          log.error(`${(err as Error).message}; still writing to the old file`);
        }
      }
      log.info(`status:\n${formatStatus(pool.status())}`);
    },
  };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);

  try {
    await pool.start();
  } catch (err) {
    const e = err as WorkerError;
    log.error(`the app failed to start:\n${e.message}`);
    process.exit(EXIT_BOOT);
  }
  log.info(`${pool.workers.size} worker${pool.workers.size > 1 ? 's' : ''} ready`);
  if (config.touchReload) watchTouchFile(resolve(config.touchReload), pool, log);
  if (config.reload) {
    const base = resolve(config.chdir || '.');
    watchSources([base, ...config.pythonpath], base, config.reloadExtra, (path) => {
      log.info(`${path} changed: reloading`);
      pool.reload();
    });
    log.info(`--reload: watching ${base}${config.pythonpath.length ? ` and ${config.pythonpath.join(', ')}` : ''} for changes`);
  }
}

/** --certfile and --keyfile, read and checked as a pair; `bad` is told one line otherwise. */
function readCertificate(config: Readonly<Config>, bad: (why: string) => void): { cert: Buffer; key: Buffer } {
  let files = { cert: Buffer.alloc(0), key: Buffer.alloc(0) };
  try {
    files = { cert: readFileSync(config.certfile), key: readFileSync(config.keyfile) };
    tls.createSecureContext(files);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    bad(`--certfile ${config.certfile} / --keyfile ${config.keyfile}: ${e.code === 'ENOENT' || e.code === 'EACCES' ? `${e.code} (${e.path})` : e.message}`);
  }
  return files;
}

/** The soft limit on open files (`ulimit -n`), from /proc; null where that cannot be read. */
function openFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function removeSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

const COMMANDS = ['status', 'reload'];

/** `warpipe status|reload [--control PATH]`: talk to a running gateway. */
async function command(name: string, args: readonly string[]): Promise<void> {
  let path = process.env.WARPIPE_CONTROL ?? '';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--control' && i + 1 < args.length) path = args[++i]!;
    else if (arg.startsWith('--control=')) path = arg.slice(10);
    else fail(`warpipe ${name}: unexpected argument ${arg} (usage: warpipe ${name} --control PATH)`, EXIT_USAGE);
  }
  if (!path) fail(`warpipe ${name} needs --control PATH (the gateway's --control socket) or WARPIPE_CONTROL`, EXIT_USAGE);
  let reply;
  try {
    reply = await sendControl(path, name);
  } catch (err) {
    fail(`cannot reach the gateway at ${path}: ${(err as Error).message}`, EXIT_RUNTIME);
  }
  if (!reply.ok) fail(reply.error ?? 'the gateway refused the command', EXIT_RUNTIME);
  process.stdout.write(name === 'status' && reply.status ? `${formatStatus(reply.status)}\n` : 'reloading\n');
}

/** Reload whenever `path` is modified or touched (polled once a second: works on every filesystem). */
function watchTouchFile(path: string, pool: Arbiter, log: Logger): void {
  watchFile(path, { interval: 1000 }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs && now.mtimeMs !== 0) {
      log.info(`${path} was touched: reloading`);
      pool.reload();
    }
  });
  process.once('exit', () => unwatchFile(path));
}

export async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] !== undefined && COMMANDS.includes(argv[0])) return command(argv[0], argv.slice(1));
  let action;
  try {
    action = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) fail(`${err.message} (see warpipe --help)`, EXIT_USAGE);
    throw err;
  }
  if (action.action === 'help') {
    process.stdout.write(helpText());
    return;
  }
  if (action.action === 'version') {
    process.stdout.write(`warpipe ${version}\n`);
    return;
  }
  await serve(action.config);
}

void main(process.argv.slice(2));
