// argv + WARPIPE_* environment + the --config file + defaults -> one frozen
// Config, validated once at startup (src/config/resolve.ts). The command line
// wins, then the environment, then the file, then the defaults. A bad value is
// a ConfigError: the CLI prints one line and exits 2.

import cluster from 'node:cluster';
import { statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { memberConfigText, memberOf } from '../gateways.js';
import { readConfigFile, type ConfigFile } from './file.js';
import { settings, type Setting, type SettingValues } from './settings.js';
import { readValue } from './values.js';
import { resolveConfig, type Config } from './resolve.js';

export type { Config } from './resolve.js';
// src/listeners/bind.ts still takes the type from here (its refactor is under way in parallel).

/** The words warpipe takes, first, instead of an app. */
export const COMMANDS = ['status', 'reload', 'check'] as const;
export type Command = (typeof COMMANDS)[number];

export type Action =
  | { action: 'help'; command?: Command }
  | { action: 'version' }
  /** `check`: `warpipe check ...`, validate and import the app without serving. */
  | { action: 'serve' | 'check'; config: Readonly<Config> };

const byFlag = new Map<string, Setting>();
for (const s of settings) {
  byFlag.set(s.flag, s);
  if (s.short) byFlag.set(s.short, s);
  if (s.alias) byFlag.set(s.alias, s);
}

/** Parse the command line (without node and script; `check ...` too), the environment and the config file. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Action {
  const check = argv[0] === 'check';
  const args = readArgv(check ? argv.slice(1) : argv);
  if (args.action === 'version') return { action: 'version' };
  if (args.action !== null) return check ? { action: 'help', command: 'check' } : { action: 'help' };
  const { values, positional } = args;
  readEnvironment(env, values);
  const file = configFile(values, env);
  const fromFile = new Set<string>();
  for (const [key, value] of file?.values ?? []) {
    if (values.has(key)) continue;
    values.set(key, value);
    fromFile.add(key);
  }
  const app = appSpec(positional, env, file);
  const origin = file && { path: file.path, text: file.text, where: (key: string) => (fromFile.has(key) ? file.where(key) : null) };
  const config = resolveConfig(withDefaults(values), app, env, origin);
  if (args.firstIsApp && !check) checkFirstWord(app, config, env);
  return { action: check ? 'check' : 'serve', config };
}

type Argv = { action: 'help' | 'version' } | { action: null; values: Map<string, unknown>; positional: string[]; firstIsApp: boolean };

/** The options given and the other words; --help and --version end the reading. */
function readArgv(argv: readonly string[]): Argv {
  const values = new Map<string, unknown>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { action: 'help' };
    if (arg === '--version' || arg === '-v') return { action: 'version' };
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const s = byFlag.get(name);
    if (!s) throw new ConfigError(`unknown option ${name}`);
    let raw: string;
    if (eq > 0 && arg.startsWith('--')) raw = arg.slice(eq + 1);
    else if (s.kind === 'bool') raw = 'true';
    else {
      if (i + 1 >= argv.length) throw new ConfigError(`${s.flag} needs a value`);
      raw = argv[++i]!;
    }
    if (s.key === 'config' && values.has('config')) throw new ConfigError('--config given twice: one config file at a time');
    const value = readValue(s, raw, s.flag);
    values.set(s.key, s.many ? [...((values.get(s.key) as unknown[]) ?? []), value] : value);
  }
  const first = argv[0];
  return { action: null, values, positional, firstIsApp: first !== undefined && first === positional[0] && first !== '--' };
}

/** WARPIPE_* variables, for the settings the command line left out (a list is comma-separated). */
function readEnvironment(env: NodeJS.ProcessEnv, values: Map<string, unknown>): void {
  for (const s of settings) {
    if (values.has(s.key)) continue;
    const raw = env[s.env];
    if (raw === undefined || raw === '') continue;
    if (s.many)
      values.set(
        s.key,
        raw.split(/\s*,\s*/).map((part) => readValue(s, part, s.env)),
      );
    else values.set(s.key, readValue(s, raw, s.env));
  }
}

/**
 * --config (else WARPIPE_CONFIG), read; its path is made absolute from the working directory. A gateway of
 * --gateways N takes the text its primary read (the file may have changed since, or be unreadable to --user).
 */
function configFile(values: Map<string, unknown>, env: NodeJS.ProcessEnv): ConfigFile | null {
  const given = values.get('config') as string | undefined;
  if (!given) return null;
  const path = resolve(given);
  values.set('config', path);
  return readConfigFile(path, memberOf(env, cluster.isWorker) ? memberConfigText(env) : undefined);
}

/** Every setting: the value given, else its default (a level's default is a name, read as given ones are). */
export function withDefaults(values: Map<string, unknown>): SettingValues {
  const all: Record<string, unknown> = {};
  for (const s of settings) {
    all[s.key] = values.has(s.key) ? values.get(s.key) : s.kind === 'level' ? readValue(s, String(s.default), s.flag) : s.default;
  }
  // the one place the table's entries meet their derived type: each value was read by its kind
  return all as SettingValues;
}

/** The app: the one argument, else WARPIPE_APP, else the config file's `app`. */
function appSpec(positional: readonly string[], env: NodeJS.ProcessEnv, file: ConfigFile | null): string {
  if (positional.length > 1) throw new ConfigError(`one app at a time, got ${positional.map((p) => `"${p}"`).join(' and ')}`);
  const app = positional[0] ?? (env.WARPIPE_APP || file?.app);
  if (!app) throw new ConfigError('no app given: warpipe MODULE:CALLABLE or path/to/app.py[:CALLABLE]');
  return checkApp(app);
}

export function checkApp(app: string): string {
  if (!/^[^:]+(:[A-Za-z_][\w.]*(\(\))?)?$/.test(app)) {
    throw new ConfigError(`app "${app}" is not MODULE:CALLABLE or path/to/file.py[:CALLABLE]`);
  }
  return app;
}

/**
 * The first word is not a command: it must look like an app, or `warpipe stop --control x` would start a
 * server for an app named "stop". A word without `:`, `/` or `.py` must name a module or package in the
 * app's directory (--chdir, else the working directory), a --pythonpath directory or PYTHONPATH. Asked once
 * everything else is known good, so a mistake elsewhere is told as it always was.
 */
function checkFirstWord(word: string, config: Readonly<Config>, env: NodeJS.ProcessEnv): void {
  if (/[:/]|\.(py|wsgi)$/.test(word)) return;
  const dirs = [config.chdir || process.cwd(), ...config.pythonpath, ...(env.PYTHONPATH ?? '').split(delimiter).filter(Boolean)];
  const module = word.replace(/\./g, '/');
  const found = (dir: string): boolean =>
    statSync(join(dir, `${module}.py`), { throwIfNoEntry: false })?.isFile() ||
    (statSync(join(dir, module), { throwIfNoEntry: false })?.isDirectory() ?? false);
  if (dirs.some(found)) return;
  throw new ConfigError(
    `unknown command "${word}" (commands: ${COMMANDS.join(', ')}), and no app ${word}: no ${module}.py or ${module}/ in ` +
      `${[...new Set(dirs)].join(', ')} (an installed module is written ${word}:application)`,
  );
}
