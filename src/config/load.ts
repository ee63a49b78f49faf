// argv + WARPIPE_* environment + defaults -> one frozen Config, validated once
// at startup (src/config/resolve.ts). A bad value is a ConfigError: the CLI
// prints one line and exits 2.

import { ConfigError } from '../errors.js';
import { settings, type Setting, type SettingValues } from './settings.js';
import { readValue } from './values.js';
import { resolveConfig, type Config } from './resolve.js';

export type { Config } from './resolve.js';
// src/listeners/bind.ts still takes the type from here (its refactor is under way in parallel).

export type Action = { action: 'help' } | { action: 'version' } | { action: 'serve'; config: Readonly<Config> };

const byFlag = new Map<string, Setting>();
for (const s of settings) {
  byFlag.set(s.flag, s);
  if (s.short) byFlag.set(s.short, s);
}

/** Parse the command line (without node and script) and the environment. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Action {
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
    const value = readValue(s, raw, s.flag);
    values.set(s.key, s.many ? [...((values.get(s.key) as unknown[]) ?? []), value] : value);
  }
  readEnvironment(env, values);
  return { action: 'serve', config: resolveConfig(withDefaults(values), appSpec(positional, env), env) };
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

/** Every setting: the value given, else its default (a level's default is a name, read as given ones are). */
export function withDefaults(values: Map<string, unknown>): SettingValues {
  const all: Record<string, unknown> = {};
  for (const s of settings) {
    all[s.key] = values.has(s.key) ? values.get(s.key) : s.kind === 'level' ? readValue(s, String(s.default), s.flag) : s.default;
  }
  // the one place the table's entries meet their derived type: each value was read by its kind
  return all as SettingValues;
}

/** The app: the one argument, else WARPIPE_APP. */
function appSpec(positional: readonly string[], env: NodeJS.ProcessEnv): string {
  if (positional.length === 0 && env.WARPIPE_APP) return checkApp(env.WARPIPE_APP);
  if (positional.length === 0) throw new ConfigError('no app given: warpipe MODULE:CALLABLE or path/to/app.py[:CALLABLE]');
  if (positional.length > 1) throw new ConfigError(`one app at a time, got ${positional.map((p) => `"${p}"`).join(' and ')}`);
  return checkApp(positional[0]!);
}

export function checkApp(app: string): string {
  if (!/^[^:]+(:[A-Za-z_][\w.]*(\(\))?)?$/.test(app)) {
    throw new ConfigError(`app "${app}" is not MODULE:CALLABLE or path/to/file.py[:CALLABLE]`);
  }
  return app;
}
