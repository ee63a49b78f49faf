// What the settings name on this machine, checked before anything starts (so a
// mistake is one line and exit 2, never after the banner): directories that
// must exist, the interpreter, the spool directory, the TLS certificate (read
// here, as root, before privileges drop). Each failure is a ConfigCheckError.

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
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

function isExecutableFile(path: string): boolean {
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * --python, as the workers' spawn will look for it: a path (relative to the
 * workers' directory, `cwd`) or a name on their PATH. A missing interpreter is
 * a bad argument (exit 2), not an app that failed to boot.
 */
export function checkInterpreter(python: string, cwd: string, path: string): void {
  if (python.includes('/')) {
    const file = resolve(cwd, python);
    if (!isExecutableFile(file)) {
      const why = statSync(file, { throwIfNoEntry: false }) ? 'not an executable file' : 'no such file';
      throw new ConfigCheckError(`--python ${python}: ${why}`);
    }
    return;
  }
  const dirs = path.split(delimiter).map((d) => resolve(cwd, d || '.'));
  if (!dirs.some((d) => isExecutableFile(join(d, python)))) {
    throw new ConfigCheckError(`--python ${python}: no such command on PATH (give the interpreter's path, like /usr/bin/python3)`);
  }
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
