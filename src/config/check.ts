// What the settings name on this machine, checked before anything starts (so a
// mistake is one line and exit 2, never after the banner): directories that
// must exist, the interpreter (found, run once for its version, as --user when
// given), the spool directory, the TLS certificate (read here, as root, before
// privileges drop). Each failure is a ConfigCheckError.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import tls from 'node:tls';
import { ConfigCheckError } from '../errors.js';
import { Spool } from '../listeners/spool.js';
import type { Identity } from '../privileges.js';

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
    throw new ConfigCheckError(
      `--spool-dir ${path}: cannot make a file there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
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

/** What --python resolved to: the interpreter the workers run, its version, and what the banner should warn of. */
export interface Interpreter {
  /** Absolute: the workers are spawned with it, so no later PATH lookup (after --user) can pick another. */
  path: string;
  /** `3.11.2`, from running it once (as --user when given, proving that user can). */
  version: string;
  /** Set when --user cannot run the one found first on PATH, and runs the next one instead. */
  warning: string | null;
}

/** The oldest Python worker.py runs on. */
const OLDEST = [3, 9] as const;
const PROBE = 'import sys; sys.stdout.write("%d.%d.%d" % tuple(sys.version_info[:3]))';
/** Spawn errors after which execvp tries the next PATH entry: the user cannot reach or run this one. */
const UNREACHABLE = new Set(['EACCES', 'ENOENT', 'EPERM', 'ENOTDIR']);

/** Run `path` once (as `as`, when given) and read its version; a failure says why, with an errno code when the spawn failed. */
function probe(path: string, as: Identity | null, env: NodeJS.ProcessEnv): { version: string } | { code: string; why: string } {
  const r = spawnSync(path, ['-c', PROBE], {
    env,
    cwd: '/',
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    ...(as ? { uid: as.uid, gid: as.gid } : {}),
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code ?? '';
    return { code, why: code || r.error.message };
  }
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    return { code: '', why: `it exited with ${r.signal ?? `code ${r.status}`}${last ? `: ${last}` : ''}` };
  }
  if (!/^\d+\.\d+\.\d+$/.test(r.stdout)) return { code: '', why: 'it is not a Python interpreter' };
  return { version: r.stdout };
}

/**
 * --python, found as the workers' spawn would find it: a path (relative to the
 * workers' directory, `cwd`) or a name on their PATH; then run once to learn
 * its version, as --user (`identity`) when that is somebody else. A name root
 * finds first on PATH that the user cannot run (a pyenv under /root) makes the
 * user's spawn take the next one: that one is chosen, with a warning naming
 * both. What cannot run is a bad argument (exit 2), not an app that failed to
 * boot.
 */
export function resolveInterpreter(
  python: string,
  cwd: string,
  path: string,
  identity: Identity | null,
  env: NodeJS.ProcessEnv,
): Interpreter {
  const as = identity && (identity.uid !== process.getuid?.() || identity.gid !== process.getgid?.()) ? identity : null;
  const user = as ? `--user ${as.name}` : '';
  let candidates: string[];
  if (python.includes('/')) {
    const file = resolve(cwd, python);
    if (!isExecutableFile(file)) {
      const why = statSync(file, { throwIfNoEntry: false }) ? 'not an executable file' : 'no such file';
      throw new ConfigCheckError(`--python ${python}: ${why}`);
    }
    candidates = [file];
  } else {
    const dirs = path.split(delimiter).map((d) => resolve(cwd, d || '.'));
    candidates = [...new Set(dirs.map((d) => join(d, python)))].filter(isExecutableFile);
    if (candidates.length === 0) {
      throw new ConfigCheckError(`--python ${python}: no such command on PATH (give the interpreter's path, like /usr/bin/python3)`);
    }
  }
  const first = candidates[0]!;
  let firstFailure = '';
  for (const candidate of candidates) {
    const result = probe(candidate, as, env);
    if ('version' in result) {
      checkVersion(python, candidate, result.version);
      const warning =
        candidate === first
          ? null
          : `--python ${python}: ${user} cannot run ${first}, the first on PATH (${firstFailure}); ` +
            `the workers run ${candidate} (${result.version}), the next ${python} on PATH, which it can`;
      return { path: candidate, version: result.version, warning };
    }
    const name = candidate === python ? python : `${python} (${candidate})`;
    if (!as || !UNREACHABLE.has(result.code)) throw new ConfigCheckError(`--python ${name}: cannot run it: ${result.why}`);
    if (candidate === first) firstFailure = result.why;
    if (python.includes('/')) throw new ConfigCheckError(`--python ${name}: ${user} cannot run it (${result.why})`);
  }
  throw new ConfigCheckError(`--python ${python}: ${user} can run no ${python} on PATH (${first}: ${firstFailure})`);
}

function checkVersion(python: string, path: string, version: string): void {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > OLDEST[0] || (major === OLDEST[0] && minor >= OLDEST[1])) return;
  const name = python === path ? python : `${python} (${path})`;
  throw new ConfigCheckError(`--python ${name} is Python ${version}; the workers need Python ${OLDEST.join('.')} or newer`);
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
    throw new ConfigCheckError(
      `--certfile ${certfile} / --keyfile ${keyfile}: ${e.code === 'ENOENT' || e.code === 'EACCES' ? `${e.code} (${e.path})` : e.message}`,
    );
  }
}
