// --config PATH: settings from a TOML file (read by smol-toml). Its keys are the
// long option names (`workers = 4`, `keepalive-timeout = 75`), a repeatable
// option takes a list (`static = ["/static=static"]`), `app` names the app;
// each value is read as its flag's text would be (src/config/record.ts), and
// the paths in it are made absolute from the file's directory (the settings'
// `path`, src/config/paths.ts). A mistake is one line that names the file and
// the line: `site.toml:3: workers must be a whole number, or MIN:MAX, got "many"`.
//
// smol-toml gives no positions, so each top-level key's line is found in the
// text here (bare, quoted and dotted keys, table headers; lines inside
// multi-line strings are skipped).

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { ConfigCheckError, ConfigError } from '../errors.js';
import { placeApp, placeValue } from './paths.js';
import { readRecord } from './record.js';
import { settings, type Setting } from './settings.js';

export interface ConfigFile {
  /** Absolute. */
  path: string;
  /** As read: --gateways N passes it to its gateways, which do not read the file again. */
  text: string;
  /** The settings it gives, by `Setting.key`, read by kind, paths absolute. */
  values: Map<string, unknown>;
  /** Its `app`, a file path in it made absolute (null: none). */
  app: string | null;
  /** `PATH:LINE` of a setting's key, for errors about its value found later (a directory that is not there). */
  where(key: string): string;
}

const nameOf = (s: Setting): string => s.flag.slice(2);

/** The file at `path` (absolute), or its `text` when already read (a gateway of --gateways N). */
export function readConfigFile(path: string, text?: string): ConfigFile {
  if (text === undefined) {
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a directory, not a file' : (e.code ?? e.message);
      throw new ConfigCheckError(`--config ${path}: ${why}`);
    }
  }
  let record: Record<string, unknown>;
  try {
    record = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new ConfigCheckError(`${path}:${err.line}:${err.column}: not TOML: ${what}`);
  }
  const lines = keyLines(text);
  const at = (name: string): string => (lines.has(name) ? `${path}:${lines.get(name)!}` : path);
  const where = (name: string): string => `${at(name)}: ${name}`;
  if ('config' in record) throw new ConfigError(`${where('config')}: a config file cannot name another (give one --config)`);
  const textLines = text.split('\n');
  for (const s of settings) normalise(record, s, where, (name) => textLines[(lines.get(name) ?? 0) - 1] ?? '');
  const base = dirname(path);
  const values = readRecord(record, nameOf, where, new Set(['app']));
  for (const s of settings) if (values.has(s.key)) values.set(s.key, placeValue(s, values.get(s.key), base));
  let app: string | null = null;
  if ('app' in record) {
    if (typeof record.app !== 'string' || record.app === '') {
      throw new ConfigError(`${where('app')} must be the app as text, like "myproject.wsgi:application"`);
    }
    app = placeApp(record.app, base);
  }
  const byKey = new Map(settings.map((s) => [s.key, nameOf(s)]));
  return { path, text, values, app, where: (key) => at(byKey.get(key) ?? key) };
}

/**
 * What TOML writes its own way, rewritten as the flag's text: an alias key
 * (`bind`) as its setting's name, a mode written `0o660` (which TOML reads as
 * the number 432) as `660`, and PREFIX=DIR pairs given as a table
 * (`static = { "/static" = "static" }`) as a list.
 */
function normalise(record: Record<string, unknown>, s: Setting, where: (name: string) => string, line: (name: string) => string): void {
  const name = nameOf(s);
  const alias = s.alias?.slice(2);
  if (alias !== undefined && alias in record) {
    if (name in record) throw new ConfigError(`${where(alias)}: the same setting as ${name}; give one of them`);
    record[name] = record[alias];
    delete record[alias];
  }
  const value = record[name];
  if (s.kind === 'mode' && typeof value === 'number' && /=\s*0o/i.test(line(name))) record[name] = value.toString(8);
  if (s.kind === 'pair' && s.many && typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)) {
    record[name] = Object.entries(value).map(([k, v]) => {
      if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`${where(name)}: ${k} must be text, got ${typeof v}`);
      return `${k}=${String(v)}`;
    });
  }
}

// TOML's keys: bare (A-Za-z0-9_-), "basic" or 'literal'; a dotted key's first part is its top-level key
const KEY = String.raw`(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')`;
const KEY_LINE = new RegExp(String.raw`^\s*${KEY}\s*[.=]`);
const TABLE_LINE = new RegExp(String.raw`^\s*\[\[?\s*${KEY}`);

/** The line (from 1) of each top-level key and table name, as first written. */
export function keyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let inTable = false;
  let open: '"""' | "'''" | null = null;
  text.split('\n').forEach((line, i) => {
    const wasOpen = open !== null;
    // a multi-line string opens or closes at each odd count of its delimiter on a line
    for (const quote of ['"""', "'''"] as const) {
      if ((open === null || open === quote) && (line.split(quote).length - 1) % 2 === 1) open = open === null ? quote : null;
    }
    if (wasOpen) return;
    const table = TABLE_LINE.exec(line);
    const m = table ?? (inTable ? null : KEY_LINE.exec(line));
    if (table) inTable = true;
    if (!m) return;
    const name = m[1] ?? (m[2] !== undefined ? unquote(m[2]) : m[3]!);
    if (!lines.has(name)) lines.set(name, i + 1);
  });
  return lines;
}

/** A basic string's escapes (TOML's are JSON's plus \UXXXXXXXX); a key that will not unescape is kept as written. */
function unquote(quoted: string): string {
  try {
    return JSON.parse(
      `"${quoted.replace(/\\U([0-9A-Fa-f]{8})/g, (_m, hex: string) => String.fromCodePoint(parseInt(hex, 16)))}"`,
    ) as string;
  } catch {
    return quoted;
  }
}
