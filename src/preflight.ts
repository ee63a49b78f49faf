// What a lone gateway and the primary of --gateways N check before they bind
// anything: the settings against this machine (a socket's directory, what is at
// its path, the open-file limit) and the request paths of --health and
// --warmup. A failure is a ConfigCheckError or ConfigError: one line, exit 2,
// before the banner.

import { readFileSync } from 'node:fs';
import { checkRequestPath } from './apps/warmup.js';
import type { Config } from './config/resolve.js';
import { ConfigCheckError } from './errors.js';
import { checkSocketPath } from './listeners/bind.js';
import type { Logger } from './log.js';

/** --health and --warmup are request paths: checked before anything starts (a ConfigError: exit 2). */
export function checkProbePaths(config: Readonly<Config>): void {
  if (config.health) checkRequestPath('--health', config.health);
  for (const path of config.warmup) checkRequestPath('--warmup', path);
}

/** The soft limit on open files (`ulimit -n`) against --max-connections. */
export function warnOpenFiles(config: Readonly<Config>, log: Logger): void {
  let files: number | null = null;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    files = m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    // no /proc: nothing to compare
  }
  if (files !== null && config.maxConnections > 0 && files < config.maxConnections + 64) {
    log.warning(
      `--max-connections ${config.maxConnections} is more than this process may open (${files} files, ulimit -n): ` +
        'raise it (systemd LimitNOFILE=) or lower --max-connections',
    );
  }
}

/**
 * Every unix socket the settings name (listeners, --metrics, --control) has its directory, and nothing but a socket is
 * at its path: else one line and exit 2, before the banner (src/listeners/bind.ts claims them when binding).
 */
export function checkSocketPaths(config: Readonly<Config>): void {
  const named: [string, string][] = [];
  for (const key of ['http', 'https', 'fastcgi', 'scgi', 'uwsgi'] as const) {
    for (const a of config[key]) if (a.kind === 'unix') named.push([`--${key} unix:${a.path}`, a.path]);
  }
  if (config.metrics?.kind === 'unix') named.push([`--metrics unix:${config.metrics.path}`, config.metrics.path]);
  if (config.control) named.push([`--control ${config.control}`, config.control]);
  for (const [flag, path] of named) {
    try {
      checkSocketPath(path);
    } catch (err) {
      throw new ConfigCheckError(`${flag}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The paths of the unix sockets the listeners bind. */
export function unixSockets(config: Readonly<Config>): string[] {
  return [...config.http, ...config.https, ...config.fastcgi, ...config.scgi, ...config.uwsgi].flatMap((a) =>
    a.kind === 'unix' ? [a.path] : [],
  );
}
