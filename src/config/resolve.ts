// The one validation pass: the values read from argv and the environment
// (src/config/load.ts) become a frozen Config in which everything the gateway
// needs is resolved and checked: listeners defaulted, worker counts settled,
// directories made absolute and known to exist, mounts given their script
// directory, the access-log format and the trusted proxies compiled, the TLS
// certificate read, the --user/--group looked up, the interpreter found. What
// passes here starts, unless a port is taken (exit 1) or the app fails to
// import (exit 3).

import cluster from 'node:cluster';
import { availableParallelism, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { ConfigCheckError, ConfigError } from '../errors.js';
import { compileFormat, type AccessEntry } from '../access-log.js';
import { TrustedProxies } from '../pipeline/forwarded.js';
import { lookupIdentity, type Identity } from '../privileges.js';
import { inheritedSockets, type InheritedSocket } from '../socket-activation.js';
import { memberOf, memberSockets } from '../gateways.js';
import { parseAddress } from '../address.js';
import { parseCompress } from '../pipeline/codings.js';
import type { MountSpec } from './mount.js';
import type { SettingValues } from './settings.js';
import { checkInterpreter, directory, prefixDirectory, readCertificate, spoolDirectory, type Certificate } from './check.js';

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
  /** Sockets systemd passed (socket activation). */
  inherited: readonly InheritedSocket[];
  /** --gateways, as a count (auto resolved from the CPUs). */
  gateways: number;
  /** Whether that count is --gateways auto's. */
  gatewaysAuto: boolean;
}

/**
 * Every setting, resolved: directories, files and sockets (--chdir, --static,
 * --cgi, --spool-dir, --log-file, --access-log, --control, --touch-reload,
 * --mount roots) are absolute; a fastcgi:// mount's `root` is the directory its
 * scripts are in (null only with split=none).
 */
export type Config = Readonly<Omit<SettingValues, keyof Resolved> & Resolved>;

const LISTENER_KEYS = ['http', 'https', 'fastcgi', 'scgi', 'uwsgi'] as const;

/** `values` checked, compiled and frozen; a ConfigError (a bad value) or ConfigCheckError (this machine disagrees) says what is wrong. */
export function resolveConfig(values: SettingValues, app: string, env: NodeJS.ProcessEnv): Readonly<Config> {
  const compiled = compile(values);
  let inherited: InheritedSocket[];
  try {
    // a gateway of --gateways N asks the primary for the sockets systemd gave it
    inherited = memberOf(env, cluster.isWorker) ? memberSockets(env) : inheritedSockets(env, process.pid);
  } catch (err) {
    throw new ConfigCheckError((err as Error).message);
  }
  // systemd socket activation brings its own sockets: no default then
  const listening = LISTENER_KEYS.some((k) => values[k].length > 0) || inherited.length > 0;
  parseCompress(values.compress); // a bad --compress is a ConfigError here, before the banner (the gateway reads it again)
  const [min, max] = values.workers;
  const workers = min === 0 ? availableParallelism() : min;
  const gateways = gatewayCount(values.gateways, workers);
  const paths = checkPaths(values);
  const certificate = values.https.length > 0 ? readCertificate(values.certfile, values.keyfile) : null;
  const identity = lookupIdentity(values.user, values.group);
  checkInterpreter(values.python, paths.chdir || process.cwd(), workerPath(values.env));
  return Object.freeze({
    ...values,
    ...compiled,
    ...paths,
    ...(listening ? {} : { http: [parseAddress('127.0.0.1:8000')] }),
    app,
    workers,
    maxWorkers: max === 0 ? workers : max,
    certificate,
    identity,
    inherited,
    gateways,
    gatewaysAuto: values.gateways === 'auto',
  });
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
function compile(values: SettingValues): Pick<Resolved, 'accessLine' | 'trustedProxies'> {
  let accessLine;
  try {
    accessLine = compileFormat(values.accessLogFormat);
  } catch (err) {
    throw new ConfigError(`--access-log-format: ${(err as Error).message}`);
  }
  let trustedProxies;
  try {
    trustedProxies = new TrustedProxies(values.forwardedAllowIps);
  } catch (err) {
    throw new ConfigError(`--forwarded-allow-ips: ${(err as Error).message}`);
  }
  if (values.https.length > 0 && (!values.certfile || !values.keyfile)) {
    throw new ConfigError('--https needs --certfile and --keyfile (PEM files)');
  }
  if (values.proxyProtocol && values.forwardedAllowIps === '') {
    throw new ConfigError('--proxy-protocol needs --forwarded-allow-ips: the addresses of the load balancers that send the header');
  }
  return { accessLine, trustedProxies: values.forwardedAllowIps ? trustedProxies : null };
}

const absolute = (path: string): string => path && resolve(path);

/** Directories checked and files made absolute (the gateway never resolves a path again). */
function checkPaths(
  values: SettingValues,
): Pick<SettingValues, 'chdir' | 'spoolDir' | 'static' | 'cgi' | 'mount' | 'logFile' | 'accessLog' | 'control' | 'touchReload'> {
  const chdir = values.chdir && directory(values.chdir, () => `--chdir ${values.chdir} is not a directory`);
  const spoolDir = values.spoolRequestBody > 0 ? spoolDirectory(values.spoolDir || tmpdir()) : resolve(values.spoolDir || tmpdir());
  return {
    chdir,
    spoolDir,
    static: values.static.map((pair) => prefixDirectory('--static', pair)),
    cgi: values.cgi.map((pair) => prefixDirectory('--cgi', pair)),
    mount: values.mount.map((m) => mountRoot(m, values.documentRoot)),
    logFile: absolute(values.logFile),
    accessLog: values.accessLog === '-' ? '-' : absolute(values.accessLog),
    control: absolute(values.control),
    touchReload: absolute(values.touchReload),
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
