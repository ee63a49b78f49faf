// The one validation pass: the values read from argv, the environment and the
// config file (src/config/load.ts) become a frozen Config in which everything
// the gateway needs is resolved and checked: listeners defaulted, worker counts
// settled, every path a setting names made absolute (relative ones from
// --chdir) and the directories known to exist, mounts given their script
// directory, the access-log format and the trusted proxies compiled, the TLS
// certificate read, the --user/--group looked up, the interpreter found and run
// once for its version. What passes here starts, unless a port is taken (exit
// 1) or the app fails to import (exit 3).

import cluster from 'node:cluster';
import { availableParallelism, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { ConfigCheckError, ConfigError } from '../errors.js';
import { compileFormat, type AccessEntry } from '../access-log.js';
import { TrustedProxies } from '../pipeline/forwarded.js';
import { lookupIdentity, lookupSocketOwner, type Identity } from '../privileges.js';
import { inheritedSockets, type InheritedSocket } from '../socket-activation.js';
import { memberOf, memberSockets } from '../gateways.js';
import { parseAddress } from '../address.js';
import { parseCompress } from '../pipeline/codings.js';
import type { MountSpec } from './mount.js';
import { settings, type SettingValues } from './settings.js';
import { placeValue } from './paths.js';
import { directory, prefixDirectory, readCertificate, resolveInterpreter, spoolDirectory, type Certificate } from './check.js';

/** What the pass adds to the settings: not settings themselves, but what they resolve to. */
export interface Resolved {
  /** MODULE:CALLABLE or path/to/file.py[:CALLABLE]: the argument, or WARPIPE_APP. */
  app: string;
  /** The fewest workers (all of them, unless --workers MIN:MAX). */
  workers: number;
  /** The most workers autoscaling may run. */
  maxWorkers: number;
  /** --forwarded-allow-ips, compiled (null: no proxy is trusted). */
  trustedProxies: TrustedProxies | null;
  /** --access-log-format, compiled. */
  accessLine: (entry: AccessEntry) => string;
  /** --certfile and --keyfile, read (null without --https). */
  certificate: Certificate | null;
  /** --user and --group, looked up (null: neither given). */
  identity: Identity | null;
  /** --socket-owner, looked up (null: not given; the sockets go to `identity`). */
  socketOwner: Identity | null;
  /** Sockets systemd passed (socket activation). */
  inherited: readonly InheritedSocket[];
  /** --gateways, as a count (auto resolved from the CPUs). */
  gateways: number;
  /** Whether that count is --gateways auto's. */
  gatewaysAuto: boolean;
  /** --python's version (`python` is resolved to the interpreter's absolute path). */
  pythonVersion: string;
  /** What the banner warns of (--user runs another interpreter than root's PATH finds). */
  warnings: readonly string[];
  /** The --config file's text (null: none), which --gateways N passes to its gateways. */
  configText: string | null;
}

/** Values that came from a config file: its path and text, and `PATH:LINE` for a setting's key (null: not from the file). */
export interface FileOrigin {
  path: string;
  text: string;
  where(key: string): string | null;
}

/**
 * Every setting, resolved: each path a setting names (its `path` in the table)
 * is absolute, relative ones taken from --chdir (else the working directory),
 * and the directories exist; --python is the interpreter's absolute path; a
 * fastcgi:// mount's `root` is the directory its scripts are in (null only with
 * split=none).
 */
export type Config = Readonly<Omit<SettingValues, keyof Resolved> & Resolved>;

const LISTENER_KEYS = ['http', 'https', 'fastcgi', 'scgi', 'uwsgi'] as const;

/**
 * `values` checked, compiled and frozen; a ConfigError (a bad value) or ConfigCheckError (this machine disagrees)
 * says what is wrong, after `PATH:LINE: ` when the value came from the config file `file`.
 */
export function resolveConfig(
  values: SettingValues,
  app: string,
  env: NodeJS.ProcessEnv,
  file: FileOrigin | null = null,
): Readonly<Config> {
  const at = <T>(keys: readonly string[], check: () => T): T => about(file, keys, check);
  const chdir = at(['chdir'], () => values.chdir && directory(values.chdir, () => `--chdir ${values.chdir} is not a directory`));
  const placed = placePaths(values, chdir || process.cwd());
  const compiled = compile(placed, at);
  let inherited: InheritedSocket[];
  try {
    // a gateway of --gateways N asks the primary for the sockets systemd gave it
    inherited = memberOf(env, cluster.isWorker) ? memberSockets(env) : inheritedSockets(env, process.pid);
  } catch (err) {
    throw new ConfigCheckError((err as Error).message);
  }
  // systemd socket activation brings its own sockets: no default then
  const listening = LISTENER_KEYS.some((k) => values[k].length > 0) || inherited.length > 0;
  at(['interface'], () => oneOf('--interface', values.interface, ['auto', 'wsgi', 'asgi']));
  at(['loop'], () => oneOf('--loop', values.loop, ['auto', 'asyncio', 'uvloop']));
  at(['http2'], () => oneOf('--http2', values.http2, ['on', 'off']));
  parseCompress(values.compress); // a bad --compress is a ConfigError here, before the banner (the gateway reads it again)
  const [min, max] = values.workers;
  const workers = min === 0 ? availableParallelism() : min;
  const gateways = at(['gateways'], () => gatewayCount(values.gateways, workers));
  const paths = checkPaths(placed, at);
  const certificate = values.https.length > 0 ? at(['certfile', 'keyfile'], () => readCertificate(placed.certfile, placed.keyfile)) : null;
  const identity = at(['user', 'group'], () => lookupIdentity(values.user, values.group));
  const socketOwner = at(['socketOwner'], () => lookupSocketOwner(values.socketOwner));
  const python = at(['python'], () =>
    resolveInterpreter(values.python, chdir || process.cwd(), workerPath(values.env), identity, workerEnv(placed)),
  );
  return Object.freeze({
    ...placed,
    ...compiled,
    ...paths,
    chdir,
    ...(listening ? {} : { http: [parseAddress('127.0.0.1:8000')] }),
    app,
    workers,
    maxWorkers: max === 0 ? workers : max,
    certificate,
    identity,
    socketOwner,
    inherited,
    gateways,
    gatewaysAuto: values.gateways === 'auto',
    python: python.path,
    pythonVersion: python.version,
    warnings: python.warning ? [python.warning] : [],
    configText: file?.text ?? null,
  });
}

/** A setting that takes one of a few words. */
function oneOf(flag: string, value: string, words: readonly string[]): void {
  if (!words.includes(value)) throw new ConfigError(`${flag} must be one of ${words.join(', ')}, got "${value}"`);
}

/** Every path a setting names (Setting.path), from `base`; --chdir was settled already. */
function placePaths(values: SettingValues, base: string): SettingValues {
  const placed: Record<string, unknown> = { ...values };
  for (const s of settings) if (s.path && s.key !== 'chdir') placed[s.key] = placeValue(s, placed[s.key], base);
  return placed as SettingValues;
}

type At = <T>(keys: readonly string[], check: () => T) => T;

/** `check()`, its ConfigError prefixed with `PATH:LINE` when the first of `keys` that came from the config file did. */
function about<T>(file: FileOrigin | null, keys: readonly string[], check: () => T): T {
  try {
    return check();
  } catch (err) {
    const where = file && keys.map((k) => file.where(k)).find((w) => w !== null);
    if (!where || !(err instanceof ConfigError)) throw err;
    const Same = err.constructor as typeof ConfigError;
    throw new Same(`${where}: ${err.message}`, { cause: err });
  }
}

/** One gateway per this many CPUs with --gateways auto (docs/performance.md, "Every core"). */
export const CPUS_PER_GATEWAY = 2;

/** --gateways N or auto, checked against the workers: each gateway owns at least one. */
function gatewayCount(raw: string, workers: number): number {
  let n: number;
  if (raw === 'auto') n = Math.max(1, Math.round(availableParallelism() / CPUS_PER_GATEWAY));
  else if (/^\d+$/.test(raw) && Number(raw) >= 1) n = Number(raw);
  else throw new ConfigError(`--gateways must be a whole number of at least 1, or auto, got "${raw}"`);
  if (n > workers) {
    if (raw === 'auto') return workers;
    throw new ConfigError(`--gateways ${n} needs --workers ${n} or more: each gateway owns a share of the workers, at least one`);
  }
  return n;
}

/** What is compiled from text, and the settings that only make sense together. */
function compile(values: SettingValues, at: At): Pick<Resolved, 'accessLine' | 'trustedProxies'> {
  const accessLine = at(['accessLogFormat'], () => {
    try {
      return compileFormat(values.accessLogFormat);
    } catch (err) {
      throw new ConfigError(`--access-log-format: ${(err as Error).message}`);
    }
  });
  const trustedProxies = at(['forwardedAllowIps'], () => {
    try {
      return new TrustedProxies(values.forwardedAllowIps);
    } catch (err) {
      throw new ConfigError(`--forwarded-allow-ips: ${(err as Error).message}`);
    }
  });
  if (values.https.length > 0 && (!values.certfile || !values.keyfile)) {
    throw new ConfigError('--https needs --certfile and --keyfile (PEM files)');
  }
  if (values.proxyProtocol && values.forwardedAllowIps === '') {
    throw new ConfigError('--proxy-protocol needs --forwarded-allow-ips: the addresses of the load balancers that send the header');
  }
  return { accessLine, trustedProxies: values.forwardedAllowIps ? trustedProxies : null };
}

/** Directories that must exist, checked (the gateway never resolves a path again; `values`' paths are absolute). */
function checkPaths(values: SettingValues, at: At): Pick<SettingValues, 'spoolDir' | 'static' | 'cgi' | 'mount'> {
  const spool = values.spoolDir || tmpdir();
  return {
    spoolDir: values.spoolRequestBody > 0 ? at(['spoolDir', 'spoolRequestBody'], () => spoolDirectory(spool)) : resolve(spool),
    static: at(['static'], () => values.static.map((pair) => prefixDirectory('--static', pair))),
    cgi: at(['cgi'], () => values.cgi.map((pair) => prefixDirectory('--cgi', pair))),
    mount: at(['mount', 'documentRoot'], () => values.mount.map((m) => mountRoot(m, values.documentRoot))),
  };
}

/** A fastcgi:// mount looks for its scripts in ?root=DIR, else --document-root; with split=none, nowhere. */
function mountRoot(mount: MountSpec, documentRoot: string): MountSpec {
  if (mount.protocol !== 'fastcgi' || mount.split === 'none') return mount;
  const root = mount.root ?? documentRoot;
  if (!root) {
    throw new ConfigCheckError(
      `--mount ${mount.prefix}=fastcgi://… needs --document-root DIR (or ?root=DIR), the directory its scripts are in; ` +
        '?split=none if the upstream is the app itself',
    );
  }
  const named = mount.root !== null ? `its root ${root}` : `--document-root ${root}`;
  return { ...mount, root: directory(root, () => `--mount ${mount.prefix}=fastcgi://…: ${named} is not a directory`) };
}

/** The PATH the workers will have (their --env may set one): where a bare --python is looked for. */
function workerPath(env: SettingValues['env']): string {
  let path = process.env.PATH ?? '/usr/bin:/bin';
  for (const [k, v] of env) if (k === 'PATH') path = v;
  return path;
}

/** The environment the workers will have, near enough to run --python as they will (src/gateway.ts has the whole of it). */
function workerEnv(values: SettingValues): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of values.env) env[k] = v;
  return env;
}
