// Settings given as an object rather than as text: a config file's keys (TOML,
// `keepalive-timeout = 75`) and startGateway's options (`keepaliveTimeout: 75`).
// Each value is read as its flag's text would be (src/config/values.ts), so a
// setting means the same and is checked the same wherever it is written.

import { ConfigError } from '../errors.js';
import { settings, type Setting } from './settings.js';
import { readValue } from './values.js';

/** A value as an object may hold it: text, a number, a boolean, or (for a repeatable setting) a list of them. */
type Scalar = string | number | boolean;

function text(value: unknown, s: Setting, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') {
    if (s.kind !== 'bool') throw new ConfigError(`${where} must be ${kindWord(s)}, got ${String(value)}`);
    return String(value);
  }
  throw new ConfigError(`${where} must be ${kindWord(s)}, got ${describe(value)}`);
}

function kindWord(s: Setting): string {
  if (s.kind === 'bool') return 'true or false';
  if (s.kind === 'int' || s.kind === 'seconds') return 'a number';
  return 'a string or a number';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  return typeof value === 'object' ? 'a table' : typeof value;
}

/**
 * The settings named in `record`, read by their kind, keyed by `Setting.key`
 * (as src/config/load.ts keeps them). `nameOf` is how the record names a
 * setting (`s.flag.slice(2)` in a file, `s.key` in options); `where(name)` is
 * how an error names the place (`warpipe.toml:3: workers`). Keys in `skip` are
 * left to the caller (`app`, ...); any other unknown key is a ConfigError.
 */
export function readRecord(
  record: Readonly<Record<string, unknown>>,
  nameOf: (s: Setting) => string,
  where: (name: string) => string,
  skip: ReadonlySet<string> = new Set(),
): Map<string, unknown> {
  const byName = new Map(settings.map((s) => [nameOf(s), s]));
  const values = new Map<string, unknown>();
  for (const [name, value] of Object.entries(record)) {
    if (skip.has(name) || value === undefined) continue;
    const s = byName.get(name);
    if (!s) throw new ConfigError(`${where(name)}: unknown setting`);
    const at = where(name);
    if (Array.isArray(value)) {
      if (!s.many) throw new ConfigError(`${at} takes one value, got a list`);
      values.set(
        s.key,
        (value as unknown[]).map((v: unknown) => readValue(s, text(v, s, at), at)),
      );
    } else {
      const one = readValue(s, text(value as Scalar, s, at), at);
      values.set(s.key, s.many ? [one] : one);
    }
  }
  return values;
}
