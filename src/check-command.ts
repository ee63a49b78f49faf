// `warpipe check`: everything warpipe would start with, checked, and nothing
// served (nginx -t, gunicorn --check-config). The Config is resolved already:
// every setting, the config file, every directory, the interpreter (run as
// --user). Here the log files are opened as the gateway opens them, the
// directories that files and unix sockets would be made in must exist, and the
// app is imported by one real worker: an Arbiter of one, with the gateway's own
// pool options (interpreter, environment, --chdir, --pythonpath, --preload),
// started and stopped, as --user when given. No listener is bound.

import { dirname } from 'node:path';
import { addressName, type Address } from './address.js';
import type { Config } from './config/resolve.js';
import { isDirectory } from './config/check.js';
import { settings, type Setting } from './config/settings.js';
import type { MountSpec } from './config/mount.js';
import { ConfigCheckError, StartError, WorkerError, codes } from './errors.js';
import { openLogs, poolOptions } from './gateway.js';
import { Logger, levels } from './log.js';
import { dropPrivileges } from './privileges.js';
import { Arbiter } from './workers/arbiter.js';

const LISTENERS = ['http', 'https', 'fastcgi', 'scgi', 'uwsgi'] as const;

/** Check `config` and import its app; prints what it checked. Resolves with the exit status: 0, or 3 (the app failed to import). */
export async function checkApp(config: Readonly<Config>): Promise<number> {
  const lines: [string, string][] = [];
  if (config.config) lines.push(['config', config.config]);
  lines.push(['app', config.app]);
  lines.push(['python', `${config.python} (${config.pythonVersion})${config.identity ? `, run as ${config.identity.name}` : ''}`]);
  const size = config.maxWorkers > config.workers ? `${config.workers} to ${config.maxWorkers}` : `${config.workers}`;
  lines.push(['workers', `${size} x ${config.threads} thread${config.threads > 1 ? 's' : ''}, in ${config.gateways} gateway(s)`]);
  lines.push(['listen', listeners(config).join(', ')]);
  for (const s of settings) {
    const shown = s.path && !['config', 'python', ...LISTENERS].includes(s.key) ? shownValue(s, config) : [];
    for (const text of shown) lines.push([s.flag.slice(2), text]);
  }
  checkParents(config);
  openLogs(config); // as the gateway does, before privileges drop (a file it cannot make is exit 2); closed at exit
  for (const warning of config.warnings) process.stderr.write(`warpipe: warning: ${warning}\n`);
  process.stdout.write(lines.map(([what, text]) => `${what.padEnd(18)} ${text}\n`).join(''));
  if (config.identity) become(config);
  const log = new Logger(levels.warning);
  const pool = new Arbiter({ ...poolOptions(config, log), workers: 1, maxWorkers: 1 }, log);
  const started = Date.now();
  try {
    await pool.start();
  } catch (err) {
    if (!(err instanceof WorkerError)) throw err;
    process.stderr.write(`warpipe: the app ${config.app} failed to import:\n${err.message}\n`);
    return 3;
  }
  const took = ((Date.now() - started) / 1000).toFixed(2);
  const worker = [...pool.workers][0];
  await pool.stop(config.gracefulTimeout);
  process.stdout.write(
    `ok: the settings are valid, and a worker${worker ? ` (python ${worker.python})` : ''} imported ${config.app} in ${took} s\n`,
  );
  return 0;
}

/** What would be bound: each listener's addresses, and the sockets systemd passes. */
function listeners(config: Readonly<Config>): string[] {
  const where = LISTENERS.flatMap((kind) => config[kind].map((a) => `${kind} ${addressName(a)}`));
  for (const { fd, kind } of config.inherited) where.push(`${kind} on descriptor ${fd} from systemd`);
  return where;
}

/** A setting's places, as the check prints them (none when it is not set). */
function shownValue(s: Setting, config: Readonly<Config>): string[] {
  const value = (config as Record<string, unknown>)[s.key];
  const list = s.many ? (value as unknown[]) : [value];
  return list.flatMap((v): string[] => {
    if (v === '' || v === null || v === undefined) return [];
    if (s.path === 'pair') return [`${(v as [string, string])[0]} -> ${(v as [string, string])[1]}`];
    if (s.path === 'socket') return [addressName(v as Address)];
    if (s.path === 'mount') {
      const m = v as MountSpec;
      const root = m.protocol === 'fastcgi' && m.root !== null ? ` (scripts in ${m.root})` : '';
      return [`${m.prefix} -> ${m.protocol}://${addressName(m.address)}${root}`];
    }
    return [String(v)];
  });
}

/** The directories that files (logs, the control socket…) and unix sockets would be made in must exist. */
function checkParents(config: Readonly<Config>): void {
  const paths: [Setting, string][] = [];
  for (const s of settings) {
    const value = (config as Record<string, unknown>)[s.key];
    const list = s.many ? (value as unknown[]) : [value];
    for (const v of list) {
      if (s.path === 'file' && typeof v === 'string' && v !== '' && v !== '-') paths.push([s, v]);
      if (s.path === 'socket' && v && (v as Address).kind === 'unix') paths.push([s, (v as { path: string }).path]);
    }
  }
  for (const [s, path] of paths) {
    if (!isDirectory(dirname(path))) throw new ConfigCheckError(`${s.flag} ${path}: ${dirname(path)} is not a directory`);
  }
}

/** --user/--group: the worker runs as the server's would (the check process becomes that user: it binds nothing). */
function become(config: Readonly<Config>): void {
  const identity = config.identity!;
  try {
    dropPrivileges(identity, []);
  } catch (err) {
    throw new StartError(codes.PRIVILEGES, `cannot become ${identity.name}: ${(err as Error).message}`, 500, { cause: err });
  }
}
