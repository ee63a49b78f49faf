// warpipe as a library: `startGateway(options)` runs a gateway (listeners,
// router, Python pool) inside the calling program, with TypeScript or
// JavaScript middleware around the whole app chain. The options are the
// command line's settings by their camelCase names, read by the same code
// (src/config/record.ts, then resolveConfig), so every check and every error
// is the command line's; errors are thrown, never turned into an exit. The
// program keeps its process: no signal handler unless `signals: true`, no
// process.exit, the log to a sink it may give (else stderr).

import type { Address } from './address.js';
import { checkApp, withDefaults } from './config/load.js';
import { resolve } from 'node:path';
import { readConfigFile } from './config/file.js';
import { readRecord } from './config/record.js';
import { resolveConfig } from './config/resolve.js';
import { settings, type Kind, type SettingEntry } from './config/settings.js';
import { ConfigError } from './errors.js';
import { Gateway } from './gateway.js';
import type { Listener, ListenerConnection } from './listeners/base.js';
import { importMiddleware, type Piece } from './middleware.js';
import type { Middleware } from './pipeline/types.js';
import type { PoolStatus } from './workers/pool-status.js';

/** How a value of each kind is written in options: the command line's text, or a number or boolean where one reads as well. */
type InputOf<K extends Kind> = K extends 'bool' ? boolean : K extends 'int' | 'seconds' | 'bytes' | 'range' ? number | string : string;

type OptionOf<S extends SettingEntry> = S extends { readonly many: true }
  ? InputOf<S['kind']> | readonly InputOf<S['kind']>[]
  : InputOf<S['kind']>;

/**
 * Every setting of the command line by its camelCase name (`--keepalive-timeout 75`
 * is `keepaliveTimeout: 75`), its value as the flag's text (`http: '127.0.0.1:0'`,
 * `workers: '2:8'`, `limitRequestBody: '10M'`), a number or boolean where one
 * reads as well (`workers: 2`, `preload: true`), and a list for a repeatable one
 * (`static: ['/static=./static']`). Derived from the settings table: a new
 * setting is an option by itself.
 */
export type SettingOptions = { readonly [S in SettingEntry as S['key']]?: OptionOf<S> };

/** What `startGateway` takes. */
export interface GatewayOptions extends Omit<SettingOptions, 'middleware'> {
  /** The WSGI app, as the command line's argument: `MODULE:CALLABLE` or `path/to/app.py[:CALLABLE]`. */
  readonly app: string;
  /**
   * Around the whole app chain (the Python app, `static`, `cgi`, `mount`), the
   * first outermost: Middleware functions, or paths of ES modules whose default
   * export is one (as `--middleware` loads them).
   */
  readonly middleware?: readonly (Middleware | string)[];
  /** Where the log's lines go, each whole with its newline (default: stderr; `logFile` wins over both). */
  readonly log?: (line: string) => void;
  /**
   * Take over the process's signals as the `warpipe` command does (SIGTERM and
   * SIGINT drain and exit, SIGHUP reloads, SIGTTIN/SIGTTOU scale, SIGUSR1 reopens
   * the logs). Default false: the program keeps its signals and calls close().
   */
  readonly signals?: boolean;
}

/** One bound socket of a running gateway. */
export interface BoundAddress {
  readonly protocol: 'http' | 'https' | 'fastcgi' | 'scgi' | 'uwsgi';
  /** Where it listens: for TCP the real port, also when 0 was asked. */
  readonly address: Address;
  /** `http://HOST:PORT` (or https) for an HTTP listener on TCP, else null. */
  readonly url: string | null;
}

/** A running gateway. */
export interface GatewayHandle {
  /** Every socket it listens on, in the order of the listeners (http, https, fastcgi, scgi, uwsgi) and their addresses. */
  readonly addresses: readonly BoundAddress[];
  /** The first HTTP listener's URL (`http://127.0.0.1:40123`), or null when there is none on TCP. */
  readonly url: string | null;
  /** The pool: each worker's pid, state, requests served, what it runs (as `warpipe status` prints it). */
  status(): PoolStatus;
  /** A graceful reload, as SIGHUP: new workers import the app afresh, then the old ones finish and exit. */
  reload(): void;
  /**
   * Stop as SIGTERM does: stop accepting, let the requests in flight finish
   * within `gracefulTimeout`, then stop the workers; resolves once they are gone.
   */
  close(): Promise<void>;
}

const LISTENER_ORDER = ['http', 'https', 'fastcgi', 'scgi', 'uwsgi'] as const;

/** Keys of GatewayOptions that are not settings. */
const NOT_SETTINGS = new Set(['app', 'middleware', 'log', 'signals']);

/**
 * Start a gateway in this process; resolves once its workers are ready.
 * Rejects with the command line's errors: `ConfigError` (a bad option),
 * `ConfigCheckError` (what an option names is missing, or a middleware module
 * cannot be used), `StartError` (a taken port), `WorkerError` (the app did not import).
 * @example
 * const gateway = await startGateway({ app: 'examples/hello.py', http: '127.0.0.1:0', workers: 2 });
 * console.log(`serving on ${gateway.url}`);
 * await gateway.close();
 */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const record = options as unknown as Readonly<Record<string, unknown>>;
  for (const s of settings) {
    // 0o660 would be read as the text "432": a mode is written as the command line writes it
    if (s.kind === 'mode' && typeof record[s.key] === 'number') {
      throw new ConfigError(`startGateway: ${s.key} must be octal text like '660'`);
    }
  }
  const values = readRecord(
    record,
    (s) => s.key,
    (name) => `startGateway: ${name}`,
    NOT_SETTINGS,
  );
  if (typeof options.app !== 'string') throw new ConfigError('startGateway: app must be MODULE:CALLABLE or path/to/app.py[:CALLABLE]');
  // `config`: a TOML file as --config reads it; the options win over it, as the command line does
  const file = typeof values.get('config') === 'string' ? readConfigFile(resolve(values.get('config') as string)) : null;
  const fromFile = new Set<string>();
  for (const [key, value] of file?.values ?? []) {
    if (values.has(key) && key !== 'config') continue;
    values.set(key, value);
    fromFile.add(key);
  }
  const origin = file && { path: file.path, text: file.text, where: (key: string) => (fromFile.has(key) ? file.where(key) : null) };
  const config = resolveConfig(withDefaults(values), checkApp(options.app), process.env, origin);
  if (config.gateways > 1) {
    const why = 'an embedded gateway is one process (the warpipe command runs several)';
    throw new ConfigError(`startGateway: gateways ${config.gateways}: ${why}`);
  }
  const middleware = await pieces(options.middleware ?? [], config.chdir || process.cwd());
  const gateway = await Gateway.start(config, null, { middleware, signals: options.signals === true, logSink: options.log });
  const addresses = boundAddresses(gateway);
  let closing: Promise<void> | null = null;
  return {
    addresses,
    url: addresses.find((a) => a.url !== null)?.url ?? null,
    status: () => gateway.pool.status(),
    reload: () => gateway.reload('reload()'),
    close: () => (closing ??= gateway.stop('close()')),
  };
}

/** The middleware option: functions as given, module paths imported, in order. */
async function pieces(list: readonly (Middleware | string)[], base: string): Promise<Piece[]> {
  if (!Array.isArray(list)) throw new ConfigError('startGateway: middleware must be a list of Middleware functions or module paths');
  const chain: Piece[] = [];
  for (const [i, m] of list.entries()) {
    const name = `startGateway: middleware[${i}]`;
    if (typeof m === 'function') chain.push({ name, middleware: m as Middleware });
    else if (typeof m === 'string') chain.push(await importMiddleware(m, `${name} (${m})`, base));
    else throw new ConfigError(`${name} is neither a Middleware function nor a module path`);
  }
  return chain;
}

function boundAddresses(gateway: Gateway): BoundAddress[] {
  const bound: BoundAddress[] = [];
  for (const protocol of LISTENER_ORDER) {
    const listener: Listener<ListenerConnection> | null = gateway.listeners[protocol];
    for (const server of listener?.servers ?? []) {
      const a = server.address();
      if (a === null) continue;
      const address: Address = typeof a === 'string' ? { kind: 'unix', path: a } : { kind: 'tcp', host: a.address, port: a.port };
      const web = protocol === 'http' || protocol === 'https';
      const host = typeof a === 'string' ? '' : a.family === 'IPv6' ? `[${a.address}]` : a.address;
      bound.push({ protocol, address, url: web && typeof a !== 'string' ? `${protocol}://${host}:${a.port}` : null });
    }
  }
  return bound;
}
