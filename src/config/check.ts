// What the settings name on this machine, checked before anything starts (so a
// mistake is one line and exit 2, never after the banner): directories that
// must exist, the spool directory, the TLS certificate (read
// here, as root, before privileges drop). Each failure is a ConfigCheckError.

import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import tls from 'node:tls';
import { ConfigCheckError } from '../errors.js';
import { Spool } from '../listeners/spool.js';

export function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** `dir`, absolute, if it is a directory; else a ConfigCheckError `${what}: ${dir} is not a directory`-style line from `why`. */
export function directory(dir: string, why: () => string): string {
  if (!isDirectory(dir)) throw new ConfigCheckError(why());
  return resolve(dir);
}

/** PREFIX=DIR of --static and --cgi: a URL prefix and a directory, made absolute. */
export function prefixDirectory(flag: string, [prefix, dir]: readonly [string, string]): readonly [string, string] {
  if (!prefix.startsWith('/')) throw new ConfigCheckError(`${flag} ${prefix}=${dir}: the prefix must start with /`);
  return [prefix, directory(dir, () => `${flag} ${prefix}=${dir}: ${dir} is not a directory`)];
}

/** --spool-dir (default $TMPDIR or /tmp), absolute, once a file could be made there. */
export function spoolDirectory(dir: string): string {
  const path = resolve(dir);
  try {
    new Spool(path).discard();
  } catch (err) {
    throw new ConfigCheckError(`--spool-dir ${path}: cannot make a file there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return path;
}

export interface Certificate {
  cert: Buffer;
  key: Buffer;
}

/** --certfile and --keyfile, read and checked as a pair (at startup, and again on SIGHUP). */
export function readCertificate(certfile: string, keyfile: string): Certificate {
  try {
    const files = { cert: readFileSync(certfile), key: readFileSync(keyfile) };
    tls.createSecureContext(files);
    return files;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigCheckError(`--certfile ${certfile} / --keyfile ${keyfile}: ${e.code === 'ENOENT' || e.code === 'EACCES' ? `${e.code} (${e.path})` : e.message}`);
  }
}
