// The benchmark's servers: warpipe and its peers, one small declarative entry
// each (what is missing, the command line, the notes for the doc). Every one
// runs WORKERS worker processes on 127.0.0.1:PORT. Readiness is an HTTP poll
// (run.ts) unless an entry brings its own `ready`; the measured pid tree is
// every launched process plus all its descendants unless `pidRoots` says so.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Launch, Proc } from './procs.js';
import { which } from './procs.js';
import type { AppRef } from './scenarios.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const APPS = join(ROOT, 'bench', 'apps');
export const WORKERS = 2;

export interface Server {
  name: string;
  /** the options it gets and why: goes into docs/benchmarks.md */
  notes: string;
  /** interpreter that runs the app (for the scenario's `needs` and the report), or null if none found */
  python(): string | null;
  /** null when it can run; else what is missing and which package provides it */
  missing(): string | null;
  /** one line for the report, e.g. "gunicorn 26.2.0" */
  version(): string;
  /** the processes to start for `app` on 127.0.0.1:`port` */
  launch(app: AppRef, port: number): Launch[];
  /** optional own readiness check (default: GET the scenario path until 200) */
  ready?(port: number, procs: readonly Proc[]): Promise<void>;
  /** optional roots of the measured pid tree (default: every launched pid) */
  pidRoots?(procs: readonly Proc[]): number[];
}

/** stdout+stderr of a short command, or null if it could not run or failed. */
function output(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error || r.status !== 0) return null;
  return `${r.stdout}${r.stderr}`.trim();
}

function once<T>(f: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = f();
      done = true;
    }
    return value;
  };
}

/** The real interpreter behind a name (resolves pyenv shims, so pids and versions are the interpreter's). */
export function realPython(name: string): string | null {
  return output(name, ['-c', 'import sys; print(sys.executable)'])?.split('\n').pop() ?? null;
}

export function pythonVersion(python: string | null): string {
  return (python && output(python, ['--version'])) || 'none';
}

const appFile = (app: AppRef): string => join(APPS, `${app.module}.py`);

// warpipe: workers on Debian's /usr/bin/python3, the interpreter uWSGI's python3 plugin embeds
const warpipePython = once(() => (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : realPython('python3')));
const warpipeCli = join(ROOT, 'dist', 'src', 'cli.js');

const warpipe: Server = {
  name: 'warpipe',
  notes:
    '`--workers 2 --python /usr/bin/python3 --chdir bench/apps --log-level warning`; everything else default ' +
    '(1 thread per worker, keep-alive 5 s, no access log). The Node gateway parses HTTP and hands each request ' +
    'to a Python worker over a socketpair.',
  python: warpipePython,
  missing: once(() => {
    if (!existsSync(warpipeCli)) return `${warpipeCli} not built: run npm run build`;
    if (!existsSync(join(ROOT, 'python', 'worker.py'))) return 'python/worker.py is missing';
    if (!warpipePython()) return 'no python3 for the workers (Debian python3)';
    return null;
  }),
  version: once(() => output(process.execPath, [warpipeCli, '--version']) ?? 'warpipe (version unknown)'),
  launch: (app, port) => [
    {
      cmd: process.execPath,
      args: [
        warpipeCli,
        `${appFile(app)}:${app.callable}`,
        '--http', `127.0.0.1:${port}`,
        '--workers', String(WORKERS),
        '--python', warpipePython() ?? 'python3',
        '--chdir', APPS,
        '--log-level', 'warning',
      ],
      cwd: ROOT,
    },
  ],
};

// gunicorn: whichever python3 is first on PATH and has it (here pyenv's 3.11.7)
const gunicornPython = once(() => realPython('python3'));
const gunicornMissing = once(() => {
  const py = gunicornPython();
  if (!py) return 'python3 not on PATH (Debian python3, or pyenv)';
  if (!output(py, ['-m', 'gunicorn', '--version'])) return `gunicorn not importable by ${py}: pip install gunicorn (Debian: python3-gunicorn)`;
  return null;
});

function gunicorn(name: string, worker: string[], notes: string): Server {
  return {
    name,
    notes,
    python: gunicornPython,
    missing: gunicornMissing,
    version: once(() => output(gunicornPython() ?? 'python3', ['-m', 'gunicorn', '--version']) ?? 'gunicorn'),
    launch: (app, port) => [
      {
        cmd: gunicornPython() ?? 'python3',
        args: [
          '-m', 'gunicorn',
          '-w', String(WORKERS), ...worker,
          '-b', `127.0.0.1:${port}`,
          '--chdir', APPS,
          '--log-level', 'warning',
          `${app.module}:${app.callable}`,
        ],
        cwd: ROOT,
      },
    ],
  };
}

// uWSGI: Debian's build; its python3 plugin embeds /usr/bin/python3's libpython
const uwsgiMissing = (plugins: string) =>
  once(() => {
    if (!which('uwsgi')) return 'uwsgi not found: apt-get install uwsgi-core uwsgi-plugin-python3';
    const r = spawnSync('uwsgi', ['--plugin', plugins, '--help'], { encoding: 'utf8', timeout: 20_000 });
    if (r.error || /UNABLE to load/i.test(`${r.stdout}${r.stderr}`)) {
      return `uwsgi cannot load plugin(s) ${plugins}: apt-get install uwsgi-plugin-python3 (python3) / uwsgi-core (http)`;
    }
    return null;
  });
const uwsgiVersion = once(() => `uWSGI ${output('uwsgi', ['--version']) ?? '(version unknown)'}`);
const uwsgiPython = (): string | null => (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null);

function uwsgi(name: string, plugins: string, bind: (port: number) => string[], notes: string): Server {
  return {
    name,
    notes,
    python: uwsgiPython,
    missing: uwsgiMissing(plugins),
    version: uwsgiVersion,
    launch: (app, port) => [
      {
        cmd: 'uwsgi',
        args: [
          '--master',
          '--processes', String(WORKERS),
          '--plugin', plugins,
          ...bind(port),
          '--chdir', APPS,
          '--wsgi-file', appFile(app),
          '--callable', app.callable,
          '--need-app',
          '--disable-logging',
          '--die-on-term',
        ],
        cwd: ROOT,
      },
    ],
  };
}

export const servers: Server[] = [
  warpipe,
  gunicorn(
    'gunicorn-sync',
    [],
    '`-w 2 --log-level warning` (sync worker, no access log: gunicorn\'s default). The sync worker does not do ' +
      'keep-alive: it answers `Connection: close` and wrk reconnects for every request (gunicorn means sync ' +
      'workers to sit behind a buffering proxy). Runs on the pyenv Python 3.11.7 first on PATH, where gunicorn ' +
      'and Flask are installed.',
  ),
  gunicorn(
    'gunicorn-gthread',
    ['-k', 'gthread', '--threads', '4'],
    '`-w 2 -k gthread --threads 4 --log-level warning`: keep-alive (gunicorn\'s default 2 s) and up to 8 ' +
      'requests in flight. Same pyenv Python 3.11.7.',
  ),
  uwsgi(
    'uwsgi-http11',
    'python3',
    (port) => ['--http11-socket', `127.0.0.1:${port}`],
    '`--http11-socket`: the workers parse HTTP/1.1 themselves, keep-alive built in, no front process. A sync ' +
      'worker keeps serving one keep-alive connection until the client closes it, so with 2 workers only 2 of ' +
      'wrk\'s connections are served at a time and the rest wait (see the fresh-connection column). wrk never ' +
      'gets an answer on the waiting ones and counts them nowhere (no timeout, no latency), so its req/s and ' +
      'p99 are those of 2 busy keep-alive connections, not of 50 clients.',
  ),
  uwsgi(
    'uwsgi-http',
    'python3,http',
    (port) => ['--http', `127.0.0.1:${port}`, '--http-keepalive'],
    '`--http` router + `--http-keepalive`: a front process (the "http router", async) owns the client ' +
      'connections and passes each request over the uwsgi protocol to a worker: the same architecture as ' +
      'warpipe. `--http-keepalive` keeps client connections open between requests (HTTP/1.1 responses with a ' +
      'Content-Length), so wrk\'s keep-alive connections are treated as with warpipe.',
  ),
];

/** Shared by every uWSGI entry, for the doc. */
export const uwsgiCommon =
  '`--master --processes 2 --plugin python3 --chdir bench/apps --wsgi-file APP.py --callable application ' +
  '--need-app --disable-logging --die-on-term`, on Debian\'s Python 3.11.2 (the python3 plugin), no threads.';
