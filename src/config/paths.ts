// Settings that name files and directories, made absolute. Which settings those
// are, and where in their value the path sits, is each one's `path` in the
// settings table (PathKind); nothing here lists settings. A relative path is
// taken from a base: the config file's directory for what the file gives
// (src/config/file.ts), --chdir (else the working directory) for what the
// command line and the WARPIPE_* variables give (src/config/resolve.ts), the
// way the workers take the app's path from --chdir.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Address } from '../address.js';
import type { MountSpec } from './mount.js';
import type { PathKind, Setting } from './settings.js';

/** `text` from `base`; '' (not given) and `-` (stdout) name no file. */
function place(text: string, base: string): string {
  return text === '' || text === '-' ? text : resolve(base, text);
}

function placeAddress(address: Address, base: string): Address {
  return address.kind === 'unix' ? { kind: 'unix', path: resolve(base, address.path) } : address;
}

/** One value of a setting whose value names a place (`kind`), placed from `base`. */
function placeOne(kind: PathKind, value: unknown, base: string): unknown {
  switch (kind) {
    case 'file':
    case 'dir':
      return place(value as string, base);
    case 'command':
      return (value as string).includes('/') ? resolve(base, value as string) : value;
    case 'module':
      return /^\.\.?\//.test(value as string) ? resolve(base, value as string) : value;
    case 'pair': {
      const [prefix, dir] = value as readonly [string, string];
      return [prefix, place(dir, base)];
    }
    case 'socket':
      return value === null ? null : placeAddress(value as Address, base);
    case 'mount': {
      const mount = value as MountSpec;
      const address = placeAddress(mount.address, base);
      if (mount.protocol !== 'fastcgi') return { ...mount, address };
      return { ...mount, address, root: mount.root === null ? null : resolve(base, mount.root) };
    }
  }
}

/** A setting's value (a list when it is `many`) with its paths absolute; settings without `path` are returned as they are. */
export function placeValue(s: Setting, value: unknown, base: string): unknown {
  const kind = s.path;
  if (kind === undefined) return value;
  return s.many ? (value as readonly unknown[]).map((v) => placeOne(kind, v, base)) : placeOne(kind, value, base);
}

/**
 * The app as the workers will find it: a `path/to/file.py` (or `.wsgi`) target
 * from `base`, a module name as it is (worker.py's `is_path`: a slash, or an
 * existing file, makes it a path).
 */
export function placeApp(spec: string, base: string): string {
  const file = /\.(py|wsgi)$/.test(spec);
  const colon = file ? -1 : spec.lastIndexOf(':');
  const target = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon);
  const isPath = target.includes('/') || (/\.(py|wsgi)$/.test(target) && isFile(resolve(base, target)));
  return isPath ? resolve(base, target) + rest : spec;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
