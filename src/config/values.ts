// Each kind of setting (src/config/settings.ts), read from its text: the same
// for a flag and for its WARPIPE_* variable. A bad value is a ConfigError that
// names where it came from: `--workers must be a whole number, got "many"`.

import { ConfigError } from '../errors.js';
import { levels, type LevelName } from '../log.js';
import { parseAddress } from '../address.js';
import { parseMount } from './mount.js';
import type { Kind, KindValues, Setting } from './settings.js';

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

type Reader<K extends Kind> = (raw: string, s: Setting, bad: (what: string) => never) => KindValues[K];

const readers: { [K in Kind]: Reader<K> } = {
  string: (raw) => raw,
  bool: (raw, _s, bad) => {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    return bad('must be true or false');
  },
  range: (raw, s, bad) => {
    const m = /^(\d+)(?::(\d+))?$/.exec(raw);
    if (!m) return bad('must be a whole number, or MIN:MAX');
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : Number(m[2]);
    if (s.min !== undefined && min < s.min) return bad(`must be at least ${s.min}`);
    if (max < min) return bad('must be MIN:MAX with MIN <= MAX');
    return [min, max];
  },
  int: (raw, s, bad) => {
    if (!/^\d+$/.test(raw)) return bad('must be a whole number');
    const n = Number(raw);
    if (s.min !== undefined && n < s.min) return bad(`must be at least ${s.min}`);
    return n;
  },
  seconds: (raw, _s, bad) => {
    if (!/^\d+(\.\d+)?$/.test(raw)) return bad('must be a number of seconds');
    return Number(raw);
  },
  bytes: (raw, s, bad) => {
    const m = /^(\d+)([kmg]?)i?b?$/i.exec(raw);
    if (!m) return bad('must be a size in bytes (suffixes K, M, G allowed)');
    const n = Number(m[1]) * sizeUnits[m[2]!.toLowerCase()]!;
    if (s.min !== undefined && n < s.min && n !== 0) return bad(`must be at least ${s.min}`);
    return n;
  },
  mode: (raw, _s, bad) => {
    if (!/^0?[0-7]{3}$/.test(raw)) return bad('must be an octal mode like 660');
    return parseInt(raw, 8);
  },
  level: (raw, _s, bad) => {
    if (!(raw.toLowerCase() in levels)) return bad(`must be one of ${Object.keys(levels).join(', ')}`);
    return levels[raw.toLowerCase() as LevelName];
  },
  address: (raw, _s, bad) => {
    try {
      return parseAddress(raw);
    } catch (err) {
      return bad(`is not an address: ${(err as Error).message}`);
    }
  },
  mount: (raw) => parseMount(raw),
  pair: (raw, s, bad) => {
    const i = raw.indexOf('=');
    if (i <= 0) return bad(s.path === 'pair' ? 'must look like PREFIX=DIR' : 'must look like KEY=VALUE');
    return [raw.slice(0, i), raw.slice(i + 1)];
  },
};

/** The value of `s` written as `raw` at `where` (its flag or its variable). */
export function readValue(s: Setting, raw: string, where: string): unknown {
  const bad = (what: string): never => {
    throw new ConfigError(`${where} ${what}, got "${raw}"`);
  };
  return readers[s.kind](raw, s, bad);
}
