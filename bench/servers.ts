// The benchmark's servers: warpipe and its peers, one small declarative entry
// each (what is missing, the command line, the notes for the doc). Every one
// runs WORKERS worker processes on 127.0.0.1:PORT. Readiness is an HTTP poll
// (run.ts) unless an entry brings its own `ready`; the measured pid tree is
// every launched process plus all its descendants unless `pidRoots` says so.
// `front` names the process that faces the clients and `workers` the ones that
// run the app, for the RSS columns.

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Protocol } from './h2load.js';
import type { Launch, Proc } from './procs.js';
import { childrenOf, tempDir, which } from './procs.js';
import type { AppRef } from './scenarios.js';
import { STATIC_PREFIX, staticRoot } from './static-files.js';

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
  /** the process that owns the client connections; null where the workers face the clients themselves */
  front(procs: readonly Proc[]): number | null;
  /** the processes that run the app */
  workers(procs: readonly Proc[]): number[];
  /** the only scenarios it can run (default: every one) */
  only?: readonly string[];
  /** it serves the bench's static files when the app asks for them (AppRef.static): the static scenarios run on it */
  static?: boolean;
  /** the app interfaces it serves (default: WSGI only); a scenario of another interface does not apply to it */
  interfaces?: readonly ('wsgi' | 'asgi')[];
  /**
   * the protocols its listener speaks (default: HTTP/1.1 in the clear, 'h1'). The HTTP/2 section's scenarios
   * (Scenario.http) run only on the servers that list theirs here; the wrk scenarios only on those that speak 'h1'.
   */
  speaks?: readonly Protocol[];
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

const warpipeMissing = once(() => {
  if (!existsSync(warpipeCli)) return `${warpipeCli} not built: run npm run build`;
  if (!existsSync(join(ROOT, 'python', 'worker.py'))) return 'python/worker.py is missing';
  if (!warpipePython()) return 'no python3 for the workers (Debian python3)';
  return null;
});
const warpipeVersion = once(() => output(process.execPath, [warpipeCli, '--version']) ?? 'warpipe (version unknown)');

/** warpipe serving `app` on the `listen` listeners (e.g. `--http 127.0.0.1:PORT`), as the `warpipe` command runs it. */
const warpipeLaunch = (app: AppRef, listen: string[], extra: string[]): Launch => ({
  // its first lines are a shell launcher (see src/cli.ts)
  cmd: '/bin/sh',
  args: [
    warpipeCli,
    `${appFile(app)}:${app.callable}`,
    ...listen,
    '--workers',
    String(WORKERS),
    '--python',
    app.python?.() ?? warpipePython() ?? 'python3',
    '--chdir',
    APPS,
    '--log-level',
    'warning',
    ...extra,
  ],
  cwd: ROOT,
});

const warpipe = (name: string, extra: () => string[], notes: string): Server => ({
  name,
  notes,
  python: warpipePython,
  missing: warpipeMissing,
  version: warpipeVersion,
  launch: (app, port) => [
    warpipeLaunch(
      app,
      ['--http', `127.0.0.1:${port}`],
      [...(app.static ? ['--static', `${STATIC_PREFIX}=${staticRoot()}`] : []), ...extra()],
    ),
  ],
  static: true,
  // the node process is the gateway; the Python workers are its children
  front: (procs) => procs[0]!.pid,
  workers: (procs) => childrenOf(procs[0]!.pid),
});

/** warpipe --gateways N: the launched process is the primary, the gateways its children, the workers theirs. */
const warpipeGateways = (gateways: number): Server => ({
  ...warpipe(
    `warpipe-gateways${gateways}`,
    () => ['--gateways', String(gateways)],
    `warpipe as above with \`--gateways ${gateways}\`: ${gateways} gateway processes take connections from the same socket, ` +
      `each with ${WORKERS / gateways} of the ${WORKERS} workers; a primary process supervises them and serves no request. ` +
      'CPU is the whole tree (primary, gateways, workers).',
  ),
  front: () => null,
  workers: (procs) => childrenOf(procs[0]!.pid).flatMap(childrenOf),
});

// gunicorn: whichever python3 is first on PATH and has it (here pyenv's 3.11.7)
// gunicorn: $BENCH_GUNICORN_PYTHON (a virtualenv's python, as users install it), else the python3 first on PATH
const gunicornPython = once(() => process.env.BENCH_GUNICORN_PYTHON || realPython('python3'));
const gunicornMissing = once(() => {
  const py = gunicornPython();
  if (!py) return 'python3 not on PATH (Debian python3, or pyenv)';
  if (!output(py, ['-m', 'gunicorn', '--version']))
    return (
      `gunicorn not importable by ${py}: python3 -m venv --system-site-packages DIR && DIR/bin/pip install gunicorn, ` +
      'then BENCH_GUNICORN_PYTHON=DIR/bin/python'
    );
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
          '-m',
          'gunicorn',
          '-w',
          String(WORKERS),
          ...worker,
          '-b',
          `127.0.0.1:${port}`,
          '--chdir',
          APPS,
          '--log-level',
          'warning',
          `${app.module}:${app.callable}`,
        ],
        cwd: ROOT,
      },
    ],
    // the arbiter only supervises; each worker accepts and serves its own clients
    front: () => null,
    workers: (procs) => childrenOf(procs[0]!.pid),
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

/** uWSGI's own account of the pids it spawned ("spawned uWSGI worker 1 (pid: 123, cores: 1)"), from its log. */
function uwsgiSpawned(proc: Proc, what: 'worker' | 'http'): number[] {
  const re = new RegExp(`spawned uWSGI ${what} \\d+ \\(pid: (\\d+)`, 'g');
  return [...new Set([...`${proc.startOutput}\n${proc.output}`.matchAll(re)].map((m) => Number(m[1])))];
}

/** uWSGI's "kill the whole stack now": its SIGTERM shutdown can take seconds to let idle workers go. */
const UWSGI_STOP = 'SIGINT';

const uwsgiArgs = (app: AppRef, plugins: string, bind: string[]): string[] => [
  '--master',
  '--processes',
  String(WORKERS),
  '--plugin',
  plugins,
  ...bind,
  '--chdir',
  APPS,
  '--wsgi-file',
  appFile(app),
  '--callable',
  app.callable,
  '--need-app',
  '--disable-logging',
  '--die-on-term',
  '--listen',
  '1024',
];

function uwsgi(name: string, plugins: string, bind: (port: number) => string[], router: boolean, notes: string): Server {
  return {
    name,
    notes,
    python: uwsgiPython,
    missing: uwsgiMissing(plugins),
    version: uwsgiVersion,
    launch: (app, port) => [{ cmd: 'uwsgi', args: uwsgiArgs(app, plugins, bind(port)), cwd: ROOT, stopSignal: UWSGI_STOP }],
    // --http: the router process owns the client connections; --http11-socket: the workers do
    front: (procs) => (router ? (uwsgiSpawned(procs[0]!, 'http')[0] ?? null) : null),
    workers: (procs) => uwsgiSpawned(procs[0]!, 'worker'),
  };
}

// waitress: one process, a thread pool; Debian's package is for /usr/bin/python3
const waitressPython = once(() => (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : realPython('python3')));
const waitress: Server = {
  name: 'waitress',
  notes:
    '`python3 -m waitress --threads 4` (waitress is one process with a pool of threads: no worker processes, so ' +
    'it is the one peer not on 2 processes); everything else default, among which `connection_limit` 100 (more ' +
    "clients wait in the listen queue) and `channel_timeout` 120 s. Debian's python3-waitress on " +
    '`/usr/bin/python3`.',
  python: waitressPython,
  missing: once(() => {
    const py = waitressPython();
    if (!py) return 'no python3 (Debian python3)';
    if (output(py, ['-c', 'import waitress']) === null)
      return `waitress not importable by ${py}: apt-get install python3-waitress (or pip install waitress)`;
    return null;
  }),
  version: once(() => {
    const v = output(waitressPython() ?? 'python3', ['-c', 'import importlib.metadata as m; print(m.version("waitress"))']);
    return `waitress ${v ?? '(version unknown)'}`;
  }),
  launch: (app, port) => [
    {
      cmd: waitressPython() ?? 'python3',
      args: ['-m', 'waitress', '--threads=4', `--listen=127.0.0.1:${port}`, `${app.module}:${app.callable}`],
      cwd: APPS, // waitress puts the working directory on sys.path
    },
  ],
  front: (procs) => procs[0]!.pid,
  workers: (procs) => [procs[0]!.pid],
};

// nginx in front of uWSGI: nginx speaks HTTP to the clients and the uwsgi protocol to `uwsgi --socket`
const nginxItself = once(() => {
  if (!which('nginx')) return 'nginx not found: apt-get install nginx-light (or nginx)';
  const v = spawnSync('nginx', ['-V'], { encoding: 'utf8', timeout: 20_000 });
  const without = /--without-http_(uwsgi|scgi|fastcgi)_module/.exec(`${v.stdout}${v.stderr}`);
  return without ? `this nginx is built without the ${without[1]} module` : null;
});
const nginxMissing = once(() => nginxItself() ?? uwsgiMissing('python3')());

/** The CGI variables nginx sends to every backend here (`uwsgi_param`, `fastcgi_param` or `scgi_param` each). */
const NGINX_PARAMS = [
  'QUERY_STRING $query_string',
  'REQUEST_METHOD $request_method',
  'CONTENT_TYPE $content_type',
  'CONTENT_LENGTH $content_length',
  'REQUEST_URI $request_uri',
  'PATH_INFO $document_uri',
  'DOCUMENT_ROOT $document_root',
  'SERVER_PROTOCOL $server_protocol',
  'REQUEST_SCHEME $scheme',
  'HTTPS $https if_not_empty',
  'REMOTE_ADDR $remote_addr',
  'REMOTE_PORT $remote_port',
  'SERVER_PORT $server_port',
  'SERVER_NAME $server_name',
];
const nginxParams = (directive: string, params = NGINX_PARAMS): string => params.map((p) => `      ${directive} ${p};`).join('\n');
// nginx's SCGI module puts CONTENT_LENGTH first itself; SCGI 1 is the protocol's marker (as in scgi_params)
const SCGI_PARAMS = [...NGINX_PARAMS.filter((p) => !p.startsWith('CONTENT_LENGTH ')), 'SCGI 1'];

/**
 * nginx.conf for one run: everything (pid, logs, temp files, the backend's socket) inside `dir`;
 * `location` is the body of `location PATH` (how it passes to the backend, or where its files are), `http`
 * more lines of the http block (an upstream block the location names, settings of its own).
 */
function nginxConf(dir: string, port: number, location: string, http = '', path = '/', listenFlags = ''): string {
  // as root the workers would otherwise run as nobody, who cannot enter the private temp dir
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  return `${user}worker_processes 1;
worker_rlimit_nofile 8192;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 64m;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
${http}  server {
    listen 127.0.0.1:${port}${listenFlags};
    location ${path} {
${location}
    }
  }
}
`;
}

/** nginx in the foreground with its config, pid file, logs and temp files in `dir`. */
const nginxLaunch = (dir: string, conf: string): Launch => ({
  cmd: 'nginx',
  args: ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
  cwd: dir,
});
const nginxVersion = once(() => spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr?.trim() ?? 'nginx');
/** How nginx runs in every nginx entry, for their notes. */
const NGINX_NOTES =
  'nginx (1 worker process, `worker_connections 4096`, keep-alive to clients with `keepalive_requests` ' +
  "raised to 1,000,000 so wrk's connections are not recycled, `client_max_body_size 64m`, no access log, " +
  'everything else default: request and response buffering on)';

/**
 * nginx (its config in a fresh temp dir, `http` more lines of its http block) `uwsgi_pass`-ing to the
 * backend `backend(socket)` starts on a unix socket there: the backend first, then nginx.
 */
function nginxUwsgiPassLaunch(backend: (socket: string) => Launch, port: number, http = '', listenFlags = ''): Launch[] {
  const dir = tempDir('warpipe-bench-nginx-');
  const socket = join(dir, 'uwsgi.sock');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, `${nginxParams('uwsgi_param')}\n      uwsgi_pass unix:${socket};`, http, '/', listenFlags));
  return [backend(socket), nginxLaunch(dir, conf)];
}

/** nginxUwsgiPassLaunch to `uwsgi --socket`. */
function nginxUwsgiLaunch(app: AppRef, port: number, http = '', listenFlags = ''): Launch[] {
  const uwsgi = (socket: string): Launch => ({
    cmd: 'uwsgi',
    args: uwsgiArgs(app, 'python3', ['--socket', socket]),
    cwd: ROOT,
    stopSignal: UWSGI_STOP,
  });
  return nginxUwsgiPassLaunch(uwsgi, port, http, listenFlags);
}

const nginxUwsgi: Server = {
  name: 'nginx-uwsgi',
  notes:
    `${NGINX_NOTES} \`uwsgi_pass\`-ing to \`uwsgi --socket\` on a ` +
    'unix socket: the classic deployment. The config is written to a temp dir and nginx runs as ' +
    "`nginx -p DIR -c DIR/nginx.conf -e DIR/error.log -g 'daemon off;'`, its pid file, logs and temp files in " +
    "that dir. CPU is nginx's and uWSGI's trees together; the front process is the nginx worker.",
  python: uwsgiPython,
  missing: nginxMissing,
  version: once(() => `${nginxVersion()} + ${uwsgiVersion()}`),
  launch: (app, port) => nginxUwsgiLaunch(app, port),
  front: (procs) => childrenOf(procs[1]!.pid)[0] ?? null,
  workers: (procs) => uwsgiSpawned(procs[0]!, 'worker'),
  speaks: ['h1'],
};

// The HTTP/2 section's TLS servers: one self-signed certificate per bench invocation (localhost and 127.0.0.1)
export const benchCertificate = once((): { cert: string; key: string } | null => {
  if (!which('openssl')) return null;
  const dir = tempDir('warpipe-bench-tls-');
  const pair = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', pair.key, '-out', pair.cert].concat([
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]),
    { stdio: 'ignore', timeout: 20_000 },
  );
  return r.status === 0 ? pair : null;
});
const certificateMissing = (): string | null =>
  benchCertificate() ? null : 'openssl could not make a self-signed certificate: apt-get install openssl';
const CERTIFICATE_NOTE =
  'a self-signed ECDSA P-256 certificate the bench makes with openssl for each invocation (TLS 1.3 with either client)';

/** nginx + uWSGI as nginx-uwsgi, the client side HTTP/2: h2c (prior knowledge) or TLS (h2 and http/1.1 by ALPN). */
const nginxUwsgiH2 = (tls: boolean): Server => ({
  name: tls ? 'nginx-uwsgi-h2-tls' : 'nginx-uwsgi-h2',
  notes: tls
    ? "nginx-uwsgi's config with `listen 127.0.0.1:PORT ssl http2` and `ssl_certificate`/`ssl_certificate_key`: " +
      `${CERTIFICATE_NOTE}; nginx offers h2 and http/1.1 by ALPN. Only the HTTP/2 section's TLS scenarios.`
    : "nginx-uwsgi's config with `listen 127.0.0.1:PORT http2`: HTTP/2 with prior knowledge (h2c) only, nginx 1.22 " +
      'takes no HTTP/1.1 on a plaintext http2 listener (its HTTP/1.1 figure is nginx-uwsgi on the same app). ' +
      "nginx's HTTP/2 defaults: 128 concurrent streams, `keepalive_requests` (1,000,000 here) requests per connection.",
  python: uwsgiPython,
  missing: once(() => nginxMissing() ?? (tls ? certificateMissing() : null)),
  version: once(() => `${nginxVersion()} + ${uwsgiVersion()}`),
  launch: (app, port) => {
    const pair = benchCertificate();
    const http = tls && pair ? `  ssl_certificate ${pair.cert};\n  ssl_certificate_key ${pair.key};\n` : '';
    return nginxUwsgiLaunch(app, port, http, tls ? ' ssl http2' : ' http2');
  },
  front: (procs) => childrenOf(procs[1]!.pid)[0] ?? null,
  workers: (procs) => uwsgiSpawned(procs[0]!, 'worker'),
  speaks: tls ? ['h1-tls', 'h2-tls'] : ['h2c'],
});

// nginx serving the static scenarios' files itself: the reference for warpipe --static
const nginxStaticMissing = once(() => (which('nginx') ? null : 'nginx not found: apt-get install nginx-light (or nginx)'));

/** nginx.conf for the static scenarios: one worker, the files under STATIC_PREFIX, open_file_cache on. */
const nginxStaticConf = (dir: string, port: number): string =>
  nginxConf(
    dir,
    port,
    `      alias ${staticRoot()}/;`,
    '  default_type text/plain;\n  sendfile off;\n  output_buffers 2 512k;\n  open_file_cache max=1000 inactive=20s;\n',
    `${STATIC_PREFIX}/`,
  );

const nginxStatic: Server = {
  name: 'nginx-static',
  notes:
    "nginx serving the static scenarios' files itself (`location /static/ { alias DIR/; }`): 1 worker process, " +
    '`worker_connections 4096`, `keepalive_requests 1000000`, no access log, `open_file_cache max=1000 inactive=20s` ' +
    "(descriptors and metadata kept, re-checked every 60 s: `open_file_cache_valid`'s default), `sendfile off` and " +
    '`output_buffers 2 512k`: its fastest setting on this loopback, measured once in 5 alternating rounds of the 1 MiB ' +
    'file (nginx worker CPU per request): `sendfile off` with the default buffers (2 32k) 435-540 µs, `sendfile on` + ' +
    '`tcp_nopush` 360-460 µs, `sendfile off` + `output_buffers 2 512k` 300-375 µs and the most MiB/s, `2 1m` no better. ' +
    'The 1 KiB file fits any of them. Only the static scenarios.',
  python: () => null,
  missing: nginxStaticMissing,
  version: nginxVersion,
  launch: (_app, port) => {
    const dir = tempDir('warpipe-bench-nginx-');
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxStaticConf(dir, port));
    return [nginxLaunch(dir, conf)];
  },
  front: (procs) => childrenOf(procs[0]!.pid)[0] ?? null,
  workers: () => [],
  only: ['static1k', 'static1m'],
  static: true,
};

// nginx in front of warpipe, one entry per way of passing to it; warpipe listens on a unix socket only
interface NginxWay {
  /** warpipe's listener for `socket` and the options that go with it, e.g. ['--uwsgi', 'unix:SOCKET'] */
  listen: (socket: string) => string[];
  /** the body of nginx's `location /` */
  location: (socket: string) => string;
  /** an upstream block named `warpipe` the location passes to, if it uses one */
  upstream?: (socket: string) => string;
}

/** Idle kept connections nginx's worker may hold to warpipe: more than wrk's 50 clients, so none is closed after use. */
const UPSTREAM_KEEPALIVE = 64;
const keptUpstream = (socket: string): string => `  upstream warpipe { server unix:${socket}; keepalive ${UPSTREAM_KEEPALIVE}; }\n`;

const nginxWarpipe = (name: string, way: NginxWay, notes: string): Server => ({
  name,
  notes:
    `${NGINX_NOTES} in front of warpipe (\`--workers 2\`, everything else default) on a unix socket: ${notes} ` +
    "CPU is nginx's and warpipe's trees together (nginx, the gateway, the Python workers); the front process is " +
    'the nginx worker.',
  python: warpipePython,
  missing: once(() => nginxItself() ?? warpipeMissing()),
  version: once(() => `${nginxVersion()} + ${warpipeVersion()}`),
  launch: (app, port) => {
    const dir = tempDir('warpipe-bench-nginx-');
    const socket = join(dir, 'warpipe.sock');
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConf(dir, port, way.location(socket), way.upstream?.(socket)));
    return [warpipeLaunch(app, way.listen(socket), []), nginxLaunch(dir, conf)];
  },
  front: (procs) => childrenOf(procs[1]!.pid)[0] ?? null,
  workers: (procs) => childrenOf(procs[0]!.pid),
});

const nginxWarpipes: Server[] = [
  nginxWarpipe(
    'nginx-warpipe-uwsgi',
    {
      listen: (socket) => ['--uwsgi', `unix:${socket}`],
      location: (socket) => `${nginxParams('uwsgi_param')}\n      uwsgi_pass unix:${socket};`,
    },
    "`uwsgi_pass` to `warpipe --uwsgi`, nginx-uwsgi's config with warpipe for uWSGI: the same params, a new " +
      'connection per request (the uwsgi protocol carries one).',
  ),
  nginxWarpipe(
    'nginx-warpipe-scgi',
    {
      listen: (socket) => ['--scgi', `unix:${socket}`],
      location: (socket) => `${nginxParams('scgi_param', SCGI_PARAMS)}\n      scgi_pass unix:${socket};`,
    },
    '`scgi_pass` to `warpipe --scgi`, the same params (but CONTENT_LENGTH, which nginx puts first itself, and with ' +
      '`SCGI 1`): a new connection per request (SCGI carries one).',
  ),
  nginxWarpipe(
    'nginx-warpipe-fastcgi',
    {
      listen: (socket) => ['--fastcgi', `unix:${socket}`],
      upstream: keptUpstream,
      location: () => `${nginxParams('fastcgi_param')}\n      fastcgi_keep_conn on;\n      fastcgi_pass warpipe;`,
    },
    `\`fastcgi_pass\` to \`warpipe --fastcgi\`, the same params, with \`fastcgi_keep_conn on\` and an \`upstream\` with ` +
      `\`keepalive ${UPSTREAM_KEEPALIVE}\`: nginx keeps its FastCGI connections open between requests.`,
  ),
  nginxWarpipe(
    'nginx-warpipe-http',
    {
      listen: (socket) => ['--http', `unix:${socket}`, '--keepalive-timeout', '75'],
      upstream: keptUpstream,
      location: () => '      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n      proxy_pass http://warpipe;',
    },
    `\`proxy_pass\` to \`warpipe --http\` through an \`upstream\` with \`keepalive ${UPSTREAM_KEEPALIVE}\`, ` +
      '`proxy_http_version 1.1` and `proxy_set_header Connection ""`: nginx keeps its HTTP connections to warpipe ' +
      'open between requests; warpipe with `--keepalive-timeout 75`, longer than nginx keeps an idle one (60 s), as ' +
      'docs/deploy.md advises.',
  ),
  nginxWarpipe(
    'nginx-warpipe-http-close',
    {
      listen: (socket) => ['--http', `unix:${socket}`],
      location: (socket) => `      proxy_pass http://unix:${socket}:;`,
    },
    '`proxy_pass` to `warpipe --http` as nginx does by default: HTTP/1.0 and `Connection: close`, a new connection per request.',
  ),
];

// The platform's floor: a bare node:net server (bench/floor.ts) with fixed answers, on the Node that runs the bench
const floorScript = join(ROOT, 'dist', 'bench', 'floor.js');
const nodeFloor: Server = {
  name: 'node-net-floor',
  notes:
    "`node dist/bench/floor.js`: a bare `node:net` server, on the Node that runs the bench (warpipe's own), that " +
    "answers each request with the hello scenario's fixed 13 bytes (and closes when asked): no HTTP parser, no " +
    'app, no worker. What a connection costs the platform; only the hello and close scenarios.',
  python: () => null,
  missing: once(() => (existsSync(floorScript) ? null : `${floorScript} not built: run npm run build`)),
  version: once(() => `node:net on Node ${process.versions.node}`),
  launch: (_app, port) => [{ cmd: process.execPath, args: [floorScript, String(port)] }],
  front: (procs) => procs[0]!.pid,
  workers: () => [],
  only: ['hello', 'close'],
};

// The same floor behind nginx's uwsgi_pass: what nginx-warpipe-uwsgi could reach if warpipe cost what node:net does
const nginxUwsgiFloor: Server = {
  name: 'nginx-uwsgi-floor',
  notes:
    "nginx-uwsgi's config `uwsgi_pass`-ing to `node dist/bench/floor.js --uwsgi SOCKET`: the bare node:net floor " +
    "as a uwsgi server (reads one packet, writes the hello scenario's fixed answer, closes), on the Node that runs " +
    'the bench. What a connection per request from nginx costs the platform, against which nginx-warpipe-uwsgi is ' +
    'read; only the hello and close scenarios.',
  python: () => null,
  missing: once(() => nginxItself() ?? (existsSync(floorScript) ? null : `${floorScript} not built: run npm run build`)),
  version: once(() => `${nginxVersion()} + node:net on Node ${process.versions.node}`),
  launch: (_app, port) => nginxUwsgiPassLaunch((socket) => ({ cmd: process.execPath, args: [floorScript, '--uwsgi', socket] }), port),
  front: (procs) => childrenOf(procs[1]!.pid)[0] ?? null,
  workers: () => [],
  only: ['hello', 'close'],
};

// uvicorn 0.54 (ASGI HTTP peer): $BENCH_UVICORN_PYTHON, else /opt/bench-uvicorn/bin/python, a virtualenv made
// with --system-site-packages over Debian's python3 (its FastAPI) with uvicorn, uvloop and httptools from pip
const UVICORN_VENV = '/opt/bench-uvicorn/bin/python';
export const uvicornPython = once(
  (): string | null => process.env.BENCH_UVICORN_PYTHON || (existsSync(UVICORN_VENV) ? UVICORN_VENV : null),
);
const uvicornVersionOf = (py: string | null): string | null =>
  py
    ? output(py, ['-c', 'import uvicorn, uvloop, httptools; print(uvicorn.__version__, uvloop.__version__, httptools.__version__)'])
    : null;

/** uvicorn with `--workers 2`: the launched process supervises, each worker accepts and serves its own clients. */
function uvicorn(
  name: string,
  python: () => string | null,
  flags: string[],
  only: string[],
  missing: () => string | null,
  notes: string,
): Server {
  return {
    name,
    notes,
    python,
    missing,
    version: once(() => {
      const v = uvicornVersionOf(python())?.split(' ');
      return v ? `uvicorn ${v[0]} (uvloop ${v[1]}, httptools ${v[2]})` : 'uvicorn (version unknown)';
    }),
    launch: (app, port) => [uvicornLaunch(python, app, ['--host', '127.0.0.1', '--port', String(port)], flags)],
    front: () => null,
    workers: (procs) => childrenOf(procs[0]!.pid),
    only,
    interfaces: ['asgi'],
  };
}

/** uvicorn's command line: `listen` says where (--host/--port, or --uds). */
function uvicornLaunch(python: () => string | null, app: AppRef, listen: string[], flags: string[]): Launch {
  return {
    cmd: python() ?? 'python3',
    args: [
      '-m',
      'uvicorn',
      `${app.module}:${app.callable}`,
      '--app-dir',
      APPS,
      ...listen,
      '--workers',
      String(WORKERS),
      '--loop',
      'uvloop',
      '--http',
      'httptools',
      ...flags,
      '--no-access-log',
      '--log-level',
      'warning',
    ],
    cwd: APPS,
  };
}

const uvicorn054 = uvicorn(
  'uvicorn',
  uvicornPython,
  ['--ws', 'none'],
  ['asgi-hello', 'fastapi-json'],
  once(() => {
    const py = uvicornPython();
    const hint =
      '/usr/bin/python3 -m venv --system-site-packages /opt/bench-uvicorn && /opt/bench-uvicorn/bin/pip install ' +
      'uvicorn==0.54 uvloop httptools (or BENCH_UVICORN_PYTHON=DIR/bin/python for another virtualenv)';
    if (!py) return `no uvicorn virtualenv: ${hint}`;
    if (!uvicornVersionOf(py)) return `uvicorn, uvloop or httptools not importable by ${py}: ${hint}`;
    return null;
  }),
  '`--workers 2 --loop uvloop --http httptools --ws none --no-access-log --log-level warning` (uvicorn parses HTTP ' +
    'in C, httptools, inside each worker; no front process). uvicorn 0.54 from pip in a virtualenv made with ' +
    "`--system-site-packages` over Debian's python3 (`BENCH_UVICORN_PYTHON`, default `/opt/bench-uvicorn/bin/python`), " +
    "so it sees Debian's FastAPI; uvloop and httptools from pip in it. `--ws none`: Debian's websockets is too old " +
    'for uvicorn 0.54. On asgi-hello and fastapi-json warpipe runs its workers on the same interpreter ' +
    '(`--python` that virtualenv), so both sides have the same uvloop and FastAPI.',
);

// uvicorn behind the cheapest Node front there is (bench/relay.ts): the ASGI targets' bound for any gateway design
const relayScript = join(ROOT, 'dist', 'bench', 'relay.js');
const uvicornRelay: Server = {
  ...uvicorn054,
  name: 'uvicorn-relay',
  notes:
    "uvicorn as above on a unix socket (`--uds`), behind `node dist/bench/relay.js` (warpipe's Node): a bare " +
    '`node:net` relay that pairs each client connection with one to uvicorn and copies bytes both ways, reading ' +
    "nothing. uvicorn's whole work plus the least a Node front process can add (a read and a write on each side " +
    "per request); warpipe's gateway does that and parses and frames, its workers do less (no HTTP parsing). " +
    'Read against uvicorn alone, it bounds what any design that keeps a Node gateway in front of the workers can ' +
    'reach. The front process is the relay.',
  missing: once(() => uvicorn054.missing() ?? (existsSync(relayScript) ? null : `${relayScript} not built: run npm run build`)),
  launch: (app, port) => {
    const socket = join(tempDir('warpipe-bench-relay-'), 'uvicorn.sock');
    return [
      uvicornLaunch(uvicornPython, app, ['--uds', socket], ['--ws', 'none']),
      { cmd: process.execPath, args: [relayScript, String(port), socket] },
    ];
  },
  front: (procs) => procs[1]!.pid,
  workers: (procs) => childrenOf(procs[0]!.pid),
};

// Debian's uvicorn 0.17 with Debian's websockets 10.4 (WebSocket peer): the newer one cannot use that websockets
const debianUvicornPython = (): string | null => (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null);
const uvicornDebian = uvicorn(
  'uvicorn-debian',
  debianUvicornPython,
  ['--ws', 'websockets'],
  ['ws-echo', 'ws-deflate'],
  once(() => {
    if (!debianUvicornPython()) return 'no /usr/bin/python3 (Debian python3)';
    // each module on its own, so the line names the package to install (python3-httptools is not pulled in by python3-uvicorn)
    for (const module of ['uvicorn', 'uvloop', 'httptools', 'websockets']) {
      if (output('/usr/bin/python3', ['-c', `import ${module}`]) === null)
        return `${module} not importable by /usr/bin/python3: apt-get install python3-${module}`;
    }
    return null;
  }),
  "Debian's uvicorn 0.17 on `/usr/bin/python3` (`python3-uvicorn`, with `python3-uvloop` and `python3-httptools`, " +
    'which it does not pull in) with ' +
    "`--workers 2 --loop uvloop --http httptools --ws websockets --no-access-log --log-level warning`: Debian's " +
    'websockets 10.4 does the WebSocket protocol (permessage-deflate on by default, when the client offers it). ' +
    'Only the WebSocket scenarios; warpipe serves them on the same `/usr/bin/python3`.',
);

/** warpipe --https with the bench's certificate: h2 and http/1.1 by ALPN. Only the HTTP/2 section's TLS scenarios. */
const warpipeHttps: Server = {
  ...warpipe('warpipe-https', () => [], ''),
  notes: `warpipe as above on \`--https 127.0.0.1:PORT --certfile CERT --keyfile KEY\`: ${CERTIFICATE_NOTE}.`,
  missing: once(() => warpipeMissing() ?? certificateMissing()),
  launch: (app, port) => {
    const pair = benchCertificate();
    return [warpipeLaunch(app, ['--https', `127.0.0.1:${port}`, '--certfile', pair?.cert ?? '', '--keyfile', pair?.key ?? ''], [])];
  },
  speaks: ['h1-tls', 'h2-tls'],
};

export const servers: Server[] = [
  {
    ...warpipe(
      'warpipe',
      () => [],
      '`--workers 2 --python /usr/bin/python3 --chdir bench/apps --log-level warning`; everything else default ' +
        '(1 thread per worker, keep-alive 75 s, no access log). The Node gateway parses HTTP and hands each request ' +
        'to a Python worker over a socketpair. ASGI apps are detected as such (`--interface auto`) and run on uvloop ' +
        'when the interpreter has it (`--loop auto`), 100 streams per worker (`--asgi-concurrency` default).',
    ),
    interfaces: ['wsgi', 'asgi'],
    speaks: ['h1', 'h2c'],
  },
  warpipeHttps,
  warpipe(
    'warpipe-access-log',
    () => ['--access-log', join(tempDir('warpipe-bench-'), 'access.log')],
    'warpipe as above plus `--access-log FILE` (combined format, a fresh file in the temporary directory): what a ' +
      'line per request costs. uWSGI logs every request by default; it is run here with `--disable-logging`, as ' +
      'gunicorn and nginx run without access logs.',
  ),
  {
    ...warpipe(
      'warpipe-nocompress',
      () => ['--compress', 'off'],
      'warpipe as above with `--compress off`: the middleware is not built at all. Against `warpipe` (whose compression ' +
        'is on by default, and does nothing for a request without Accept-Encoding) on hello, what that path costs; on the ' +
        'scenarios that send Accept-Encoding, what compression costs and gives.',
    ),
    only: ['hello', 'flask10k', 'flask10k-br', 'flask10k-gzip', 'static100k', 'static100k-br', 'static100k-pre'],
  },
  warpipeGateways(2),
  gunicorn(
    'gunicorn-sync',
    [],
    "`-w 2 --log-level warning` (sync worker, no access log: gunicorn's default). The sync worker does not do " +
      'keep-alive: it answers `Connection: close` and wrk reconnects for every request (gunicorn means sync ' +
      'workers to sit behind a buffering proxy). Runs from a virtualenv (`BENCH_GUNICORN_PYTHON`): `python3 -m venv ' +
      '--system-site-packages` over the pyenv Python 3.11.7 first on PATH (which has Flask), then `pip install gunicorn`.',
  ),
  gunicorn(
    'gunicorn-gthread',
    ['-k', 'gthread', '--threads', '4'],
    "`-w 2 -k gthread --threads 4 --log-level warning`: keep-alive (gunicorn's default 2 s) and up to 8 " +
      'requests in flight. The same virtualenv.',
  ),
  uwsgi(
    'uwsgi-http11',
    'python3',
    (port) => ['--http11-socket', `127.0.0.1:${port}`],
    false,
    '`--http11-socket`: the workers parse HTTP/1.1 themselves, keep-alive built in, no front process. A sync ' +
      'worker keeps serving one keep-alive connection until the client closes it, so with 2 workers only 2 of ' +
      "wrk's connections are served at a time and the rest wait (see the fresh-connection column). wrk never " +
      'gets an answer on the waiting ones and counts them nowhere (no timeout, no latency), so its req/s and ' +
      'p99 are those of 2 busy keep-alive connections, not of 50 clients.',
  ),
  uwsgi(
    'uwsgi-http',
    'python3,http',
    (port) => ['--http', `127.0.0.1:${port}`, '--http-keepalive', '--http-buffer-size', '32768'],
    true,
    '`--http` router + `--http-keepalive`: a front process (the "http router", async) owns the client ' +
      'connections and passes each request over the uwsgi protocol to a worker: the same architecture as ' +
      'warpipe. `--http-keepalive` keeps client connections open between requests (HTTP/1.1 responses with a ' +
      "Content-Length), so wrk's keep-alive connections are treated as with warpipe. `--http-buffer-size 32768`: " +
      'with the default (one 4 KiB page) the router sends a 10 KiB response in pieces that run into the ' +
      "client's 40 ms delayed ACK, and get10k/echo10k fall to ~1,100 req/s (and 10 MiB to ~170 MiB/s); 32 KiB " +
      'gives it its normal speed (64 KiB made its uploads stall).',
  ),
  nginxUwsgi,
  nginxUwsgiH2(false),
  nginxUwsgiH2(true),
  nginxStatic,
  ...nginxWarpipes,
  waitress,
  nodeFloor,
  nginxUwsgiFloor,
  uvicorn054,
  uvicornRelay,
  uvicornDebian,
];

/** Shared by every uWSGI entry, for the doc. */
export const uwsgiCommon =
  '`--master --processes 2 --plugin python3 --chdir bench/apps --wsgi-file APP.py --callable application ' +
  "--need-app --disable-logging --die-on-term --listen 1024` (the listen queue raised from uWSGI's 100, which it warns " +
  "about, so that 1,000 connecting clients or 500 held ones are not dropped at the door: Node's default is 511, " +
  "gunicorn's 2048, waitress's 1024, nginx's 511), on Debian's Python 3.11.2 (the python3 plugin), no threads.";
