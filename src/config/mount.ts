// --mount PREFIX=SCHEME://ADDRESS[?OPTION=VALUE&...]: an upstream that serves
// the requests under PREFIX.
//   fastcgi://ADDRESS?split=php|cgi|none&root=DIR   php-fpm, fcgiwrap, flup
//   uwsgi://ADDRESS                                  uWSGI --socket
//   scgi://ADDRESS                                   any SCGI server
// ADDRESS is HOST:PORT, [IPv6]:PORT or unix:/path.

import { ConfigError } from '../errors.js';
import type { ScriptSplit } from '../apps/fastcgi-upstream.js';
import { parseAddress, type Address } from '../address.js';

export type MountSpec =
  | { prefix: string; protocol: 'fastcgi'; address: Address; split: ScriptSplit; root: string | null }
  | { prefix: string; protocol: 'uwsgi' | 'scgi'; address: Address };

const SPLITS: readonly ScriptSplit[] = ['php', 'cgi', 'none'];

/** Parse one `PREFIX=URL`; a ConfigError names what is wrong. */
export function parseMount(raw: string): MountSpec {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--mount "${raw}" must look like PREFIX=fastcgi://ADDRESS (or uwsgi://, scgi://)`);
  const prefix = raw.slice(0, eq);
  const url = raw.slice(eq + 1);
  const bad = (why: string): never => {
    throw new ConfigError(`--mount ${raw}: ${why}`);
  };
  if (!prefix.startsWith('/')) bad('the prefix must start with /');
  const m = /^(fastcgi|uwsgi|scgi):\/\/([^?]+)(?:\?(.*))?$/.exec(url);
  if (!m) return bad('the upstream must be fastcgi://ADDRESS, uwsgi://ADDRESS or scgi://ADDRESS (HOST:PORT or unix:/path)');
  const protocol = m[1] as 'fastcgi' | 'uwsgi' | 'scgi';
  let address: Address;
  try {
    address = parseAddress(m[2]!);
  } catch (err) {
    return bad((err as Error).message);
  }
  const options = new Map<string, string>();
  for (const part of m[3] === undefined ? [] : m[3].split('&')) {
    const i = part.indexOf('=');
    const key = i < 0 ? part : part.slice(0, i);
    let value = '';
    try {
      value = i < 0 ? '' : decodeURIComponent(part.slice(i + 1));
    } catch {
      bad(`option "${key}" has a bad %-escape`);
    }
    if (options.has(key)) bad(`option "${key}" given twice`);
    options.set(key, value);
  }
  if (protocol !== 'fastcgi') {
    for (const key of options.keys()) bad(`${protocol}:// takes no options, got "${key}"`);
    return { prefix, protocol, address };
  }
  for (const key of options.keys()) if (key !== 'split' && key !== 'root') bad(`unknown option "${key}" (fastcgi:// takes split and root)`);
  const split = (options.get('split') ?? 'php') as ScriptSplit;
  if (!SPLITS.includes(split)) bad(`split must be ${SPLITS.join(', ')}, got "${split}"`);
  const root = options.get('root');
  if (root === '') bad('root needs a directory');
  if (root !== undefined && split === 'none') bad('split=none looks for no script, so it takes no root');
  return { prefix, protocol, address, split, root: root ?? null };
}
