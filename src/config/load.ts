// argv + WARPIPE_* environment + defaults -> one frozen Config, validated once
// at startup. A bad value is a ConfigError: the CLI prints one line, exits 2.

import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';
import { parseAddress, type Address } from '../address.js';
import { levels, type LevelName } from '../log.js';
import { settings, type Setting } from './settings.js';
import { parseMount, type MountSpec } from './mount.js';
import { compileFormat } from '../access-log.js';
import { TrustedProxies } from '../pipeline/forwarded.js';

// src/listeners/bind.ts still takes the type from here (its refactor is under way in parallel).
export type { Address } from '../address.js';

export interface Config {
  app: string;
  python: string;
  chdir: string;
  pythonpath: string[];
  env: [string, string][];
  validate: boolean;
  static: [string, string][];
  staticFollowSymlinks: boolean;
  mount: MountSpec[];
  cgi: [string, string][];
  documentRoot: string;
  upstreamTimeout: number;
  upstreamKeepalive: number;
  http: Address[];
  https: Address[];
  certfile: string;
  keyfile: string;
  fastcgi: Address[];
  scgi: Address[];
  uwsgi: Address[];
  socketMode: number;
  minUploadRate: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  user: string;
  group: string;
  /** The fewest workers (all of them, unless --workers MIN:MAX). */
  workers: number;
  /** The most workers autoscaling may run. */
  maxWorkers: number;
  idleTimeout: number;
  threads: number;
  pipeline: number;
  timeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  maxRss: number;
  maxLifetime: number;
  backlog: number;
  queueTimeout: number;
  touchReload: string;
  preload: boolean;
  reload: boolean;
  reloadExtra: string[];
  control: string;
  gracefulTimeout: number;
  bootTimeout: number;
  limitRequestLine: number;
  limitRequestFields: number;
  limitRequestFieldSize: number;
  limitRequestHeaders: number;
  limitRequestBody: number;
  bufferRequestBody: number;
  spoolRequestBody: number;
  spoolDir: string;
  bufferResponse: number;
  headerTimeout: number;
  bodyTimeout: number;
  keepaliveTimeout: number;
  sendTimeout: number;
  logLevel: number;
  logFile: string;
  forwardedAllowIps: string;
  proxyProtocol: boolean;
  metrics: Address | null;
  accessLog: string;
  accessLogFormat: string;
}

export type Action = { action: 'help' } | { action: 'version' } | { action: 'serve'; config: Readonly<Config> };

const byFlag = new Map<string, Setting>();
for (const s of settings) {
  byFlag.set(s.flag, s);
  if (s.short) byFlag.set(s.short, s);
}

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function convert(s: Setting, raw: string, where: string): unknown {
  const bad = (what: string): never => {
    throw new ConfigError(`${where} ${what}, got "${raw}"`);
  };
  switch (s.kind) {
    case 'string':
      return raw;
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      return bad('must be true or false');
    case 'range': {
      const m = /^(\d+)(?::(\d+))?$/.exec(raw);
      if (!m) return bad('must be a whole number, or MIN:MAX');
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : Number(m[2]);
      if (s.min !== undefined && min < s.min) return bad(`must be at least ${s.min}`);
      if (max < min) return bad('must be MIN:MAX with MIN <= MAX');
      return [min, max];
    }
    case 'int': {
      if (!/^\d+$/.test(raw)) return bad('must be a whole number');
      const n = Number(raw);
      if (s.min !== undefined && n < s.min) return bad(`must be at least ${s.min}`);
      return n;
    }
    case 'seconds': {
      if (!/^\d+(\.\d+)?$/.test(raw)) return bad('must be a number of seconds');
      return Number(raw);
    }
    case 'bytes': {
      const m = /^(\d+)([kmg]?)i?b?$/i.exec(raw);
      if (!m) return bad('must be a size in bytes (suffixes K, M, G allowed)');
      const n = Number(m[1]) * sizeUnits[m[2]!.toLowerCase()]!;
      if (s.min !== undefined && n < s.min && n !== 0) return bad(`must be at least ${s.min}`);
      return n;
    }
    case 'mode':
      if (!/^0?[0-7]{3}$/.test(raw)) return bad('must be an octal mode like 660');
      return parseInt(raw, 8);
    case 'level':
      if (!(raw.toLowerCase() in levels)) return bad(`must be one of ${Object.keys(levels).join(', ')}`);
      return levels[raw.toLowerCase() as LevelName];
    case 'address':
      try {
        return parseAddress(raw);
      } catch (err) {
        return bad(`is not an address: ${(err as Error).message}`);
      }
    case 'mount':
      return parseMount(raw);
    case 'pair': {
      const i = raw.indexOf('=');
      if (i <= 0) return bad('must look like KEY=VALUE');
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
  }
}

/** Parse the command line (without node and script) and the environment. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Action {
  const values = new Map<string, unknown>();
  const fromArgs = new Set<string>();
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
    const value = convert(s, raw, s.flag);
    fromArgs.add(s.key);
    if (s.many) values.set(s.key, [...((values.get(s.key) as unknown[]) ?? []), value]);
    else values.set(s.key, value);
  }

  for (const s of settings) {
    if (fromArgs.has(s.key)) continue;
    const raw = env[s.env];
    if (raw === undefined || raw === '') continue;
    if (s.many) values.set(s.key, raw.split(/\s*,\s*/).map((part) => convert(s, part, s.env)));
    else values.set(s.key, convert(s, raw, s.env));
  }

  if (positional.length === 0) {
    const app = env.WARPIPE_APP;
    if (!app) throw new ConfigError('no app given: warpipe MODULE:CALLABLE or path/to/app.py[:CALLABLE] (see --help)');
    positional.push(app);
  }
  if (positional.length > 1) throw new ConfigError(`one app at a time, got ${positional.map((p) => `"${p}"`).join(' and ')}`);
  const app = positional[0]!;
  if (!/^[^:]+(:[A-Za-z_][\w.]*(\(\))?)?$/.test(app)) {
    throw new ConfigError(`app "${app}" is not MODULE:CALLABLE or path/to/file.py[:CALLABLE]`);
  }

  const config: Record<string, unknown> = { app };
  for (const s of settings) {
    config[s.key] = values.has(s.key) ? values.get(s.key) : s.kind === 'level' ? convert(s, String(s.default), s.flag) : s.default;
  }
  const listening = ['http', 'https', 'fastcgi', 'scgi', 'uwsgi'].some((k) => (config[k] as Address[]).length > 0);
  // systemd socket activation brings its own sockets: no default then
  const activated = env.LISTEN_PID === String(process.pid) && Number(env.LISTEN_FDS) > 0;
  if (!listening && !activated) config.http = [parseAddress('127.0.0.1:8000')];
  const [min, max] = config.workers as [number, number];
  config.workers = min === 0 ? availableParallelism() : min;
  config.maxWorkers = max === 0 ? config.workers : max;
  try {
    compileFormat(config.accessLogFormat as string);
  } catch (err) {
    throw new ConfigError(`--access-log-format: ${(err as Error).message}`);
  }
  try {
    new TrustedProxies(config.forwardedAllowIps as string);
  } catch (err) {
    throw new ConfigError(`--forwarded-allow-ips: ${(err as Error).message}`);
  }
  if ((config.https as Address[]).length > 0 && (!config.certfile || !config.keyfile)) {
    throw new ConfigError('--https needs --certfile and --keyfile (PEM files)');
  }
  if (config.proxyProtocol && config.forwardedAllowIps === '') {
    throw new ConfigError('--proxy-protocol needs --forwarded-allow-ips: the addresses of the load balancers that send the header');
  }
  return { action: 'serve', config: Object.freeze(config as unknown as Config) };
}

/** `warpipe --help`, generated from the settings table. */
export function helpText(): string {
  const sections: Record<Setting['section'], string> = {
    app: 'The app', listen: 'Listening', workers: 'Workers', limits: 'Limits', timeouts: 'Timeouts', logging: 'Logging',
  };
  const lines = [
    'usage: warpipe [OPTIONS] APP',
    '       warpipe status --control PATH    print the running pool (workers, states, requests)',
    '       warpipe reload --control PATH    reload gracefully, as SIGHUP does',
    '',
    'Serve a Python WSGI (PEP 3333) app. APP is MODULE:CALLABLE (the callable may be a dotted',
    'attribute path, or NAME() to call a factory), MODULE (callable "application", then "app"),',
    'or path/to/file.py[:CALLABLE].',
    '',
  ];
  for (const [section, title] of Object.entries(sections)) {
    lines.push(`${title}:`);
    for (const s of settings.filter((x) => x.section === section)) {
      const flag = (s.short ? `${s.short}, ` : '') + s.flag + (s.kind === 'bool' ? '' : ` ${valueName(s)}`);
      const def = defaultText(s);
      lines.push(`  ${flag}`);
      lines.push(`      ${s.doc}${def ? ` [${def}]` : ''} (env ${s.env}${s.peer ? `; like ${s.peer}` : ''})`);
    }
    lines.push('');
  }
  lines.push('  -h, --help      show this help and exit', '  -v, --version   print the version and exit', '');
  return lines.join('\n');
}

function valueName(s: Setting): string {
  return { string: 'TEXT', int: 'N', range: 'N|MIN:MAX', bool: '', seconds: 'SECONDS', bytes: 'BYTES', address: 'ADDRESS', pair: 'KEY=VALUE', mount: 'PREFIX=URL', mode: 'MODE', level: 'LEVEL' }[s.kind];
}

function defaultText(s: Setting): string {
  if (Array.isArray(s.default) || s.default === '' || s.default === false || s.default === null) return '';
  if (s.default === true) return 'on';
  if (s.kind === 'mode') return (s.default as number).toString(8);
  if (s.kind === 'seconds') return `${String(s.default)}s`;
  if (s.kind === 'int' && s.default === 0) return '';
  return String(s.default);
}
