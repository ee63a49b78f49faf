// Every setting, declared once. The command line, the WARPIPE_* environment
// variables, the config file's keys (--config), `warpipe --help`, the README's
// reference and the `Config` type all come from this table (gunicorn's Setting,
// without the class machinery): a new setting is one entry here, and its
// value's type follows from its `kind`. A setting whose value names a file or
// a directory says so in `path`: that alone makes it relative to the config
// file's directory when the file gives it, and to --chdir otherwise.

import type { Address } from '../address.js';
import type { MountSpec } from './mount.js';

/** What each kind of setting holds once its text is read (src/config/values.ts reads it). */
export interface KindValues {
  string: string;
  int: number;
  /** N or MIN:MAX, as [MIN, MAX]. */
  range: readonly [number, number];
  bool: boolean;
  seconds: number;
  bytes: number;
  address: Address;
  /** KEY=VALUE or PREFIX=DIR. */
  pair: readonly [string, string];
  mode: number;
  /** A level name, as its number (Python's, as in src/log.ts). */
  level: number;
  mount: MountSpec;
}

export type Kind = keyof KindValues;

/**
 * Where a setting's value names a place on disk (src/config/paths.ts places it):
 * - `file`, `dir`: the value is a path (`-`, stdout, is not);
 * - `pair`: the DIR of PREFIX=DIR;
 * - `socket`: the path of a `unix:PATH` address;
 * - `mount`: a --mount's `unix:PATH` upstream and its `?root=DIR`;
 * - `command`: a path when it has a slash (`./venv/bin/python`), else a name looked up on PATH;
 * - `module`: a path when it starts with `./`, `../` or `/` (an ES module file), else a package name.
 * A relative one is taken from the config file's directory when the file gives it, else from
 * --chdir (itself from the working directory), else from the working directory.
 */
export type PathKind = 'file' | 'dir' | 'pair' | 'socket' | 'mount' | 'command' | 'module';

export interface Setting {
  /** Key in Config. */
  readonly key: string;
  readonly flag: string;
  readonly short?: string;
  /** Another long name for the flag (gunicorn's `--bind` for `--http`), accepted as a config file key too. */
  readonly alias?: string;
  readonly kind: Kind;
  /** The value names a file or directory: see PathKind. */
  readonly path?: PathKind;
  readonly default: unknown;
  /** Accept the flag many times; the value is a list. */
  readonly many?: boolean;
  readonly env: string;
  readonly doc: string;
  /** The gunicorn / uWSGI setting it corresponds to. */
  readonly peer?: string;
  readonly min?: number;
  readonly section: 'app' | 'listen' | 'workers' | 'limits' | 'timeouts' | 'logging';
}

/** One entry; its literal key, kind and `many` are kept in its type, for `SettingValues`. */
function setting<const S extends Omit<Setting, 'env'> & { env?: string }>(s: S): Setting & S {
  return { env: 'WARPIPE_' + s.key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase(), ...s };
}

// biome-ignore format: a table, a setting to two or three lines (formatted, it is three times as long)
const table = [
  // the app
  setting({ key: 'config', flag: '--config', kind: 'string', path: 'file', default: '', section: 'app',
    doc: 'Read settings from this TOML file: keys are the long option names (workers = 4, static = ["/static=static"], ' +
      'app = "module:callable"); the command line and WARPIPE_* variables win over it; its relative paths are relative to it.',
    peer: 'gunicorn --config, uWSGI --ini' }),
  setting({ key: 'python', flag: '--python', kind: 'string', path: 'command', default: 'python3', section: 'app',
    doc: 'Python interpreter that runs the workers (a virtualenv\'s bin/python just works).', peer: 'uWSGI --home' }),
  setting({ key: 'chdir', flag: '--chdir', kind: 'string', path: 'dir', default: '', section: 'app',
    doc: 'Directory the workers run in and import the app from.', peer: 'gunicorn --chdir' }),
  setting({ key: 'pythonpath', flag: '--pythonpath', kind: 'string', path: 'dir', default: [], many: true, section: 'app',
    doc: 'Directory to add to the workers\' import path (repeatable).', peer: 'gunicorn --pythonpath' }),
  setting({ key: 'env', flag: '--env', kind: 'pair', default: [], many: true, section: 'app',
    doc: 'KEY=VALUE to set in the workers\' environment (repeatable).', peer: 'gunicorn --env' }),
  setting({ key: 'validate', flag: '--validate', kind: 'bool', default: false, section: 'app',
    doc: 'Wrap the app in wsgiref.validate.validator: PEP 3333 violations become errors.' }),
  // listening
  setting({ key: 'http', flag: '--http', short: '-b', alias: '--bind', kind: 'address', path: 'socket', default: [], many: true,
    section: 'listen',
    doc: 'Serve HTTP/1.1 (and h2c, see --http2) on HOST:PORT, [IPv6]:PORT or unix:/path (repeatable; default 127.0.0.1:8000 unless ' +
      'another listener is given; --bind is the same).',
    peer: 'gunicorn --bind, uWSGI --http-socket' }),
  setting({ key: 'https', flag: '--https', kind: 'address', path: 'socket', default: [], many: true, section: 'listen',
    doc: 'Serve HTTPS (TLS 1.2+, HTTP/2 or HTTP/1.1 inside by ALPN) on HOST:PORT, [IPv6]:PORT or unix:/path with --certfile and ' +
      '--keyfile (repeatable). SIGHUP re-reads the certificate.',
    peer: 'gunicorn --certfile/--keyfile, uWSGI --https' }),
  setting({ key: 'http2', flag: '--http2', kind: 'string', default: 'on', section: 'listen',
    doc: 'HTTP/2 on the HTTP listeners: on (--https offers h2 and http/1.1 by ALPN; --http also takes h2c, HTTP/2 with prior knowledge, ' +
      'the way load balancers talk to backends) or off (HTTP/1.1 only).',
    peer: 'nginx listen ... http2, gunicorn --http-protocols' }),
  setting({ key: 'certfile', flag: '--certfile', kind: 'string', path: 'file', default: '', section: 'listen',
    doc: 'PEM certificate for --https (the chain after it, as nginx ssl_certificate takes it).',
    peer: 'gunicorn --certfile, nginx ssl_certificate' }),
  setting({ key: 'keyfile', flag: '--keyfile', kind: 'string', path: 'file', default: '', section: 'listen',
    doc: 'PEM private key for --https, read before privileges are dropped.', peer: 'gunicorn --keyfile, nginx ssl_certificate_key' }),
  setting({ key: 'fastcgi', flag: '--fastcgi', kind: 'address', path: 'socket', default: [], many: true, section: 'listen',
    doc: 'Serve FastCGI (the responder role, for nginx fastcgi_pass) on HOST:PORT, [IPv6]:PORT or unix:/path (repeatable).',
    peer: 'uWSGI --fastcgi-socket, flup' }),
  setting({ key: 'scgi', flag: '--scgi', kind: 'address', path: 'socket', default: [], many: true, section: 'listen',
    doc: 'Serve SCGI (for nginx scgi_pass) on HOST:PORT, [IPv6]:PORT or unix:/path (repeatable).',
    peer: 'uWSGI --scgi-socket, flup' }),
  setting({ key: 'uwsgi', flag: '--uwsgi', kind: 'address', path: 'socket', default: [], many: true, section: 'listen',
    doc: 'Serve the uwsgi protocol (for nginx uwsgi_pass, modifier1 0) on HOST:PORT, [IPv6]:PORT or unix:/path (repeatable).',
    peer: 'uWSGI --socket' }),
  setting({ key: 'user', flag: '--user', kind: 'string', default: '', section: 'listen',
    doc: 'Run as this user (name or uid) once the sockets are bound; its primary group unless --group. Needs root.',
    peer: 'gunicorn --user, uWSGI --uid' }),
  setting({ key: 'group', flag: '--group', kind: 'string', default: '', section: 'listen',
    doc: 'Run as this group (name or gid) once the sockets are bound; unix sockets are given to the user and group.',
    peer: 'gunicorn --group, uWSGI --gid' }),
  setting({ key: 'forwardedAllowIps', flag: '--forwarded-allow-ips', kind: 'string', default: '', section: 'listen',
    doc: 'Comma-separated proxy addresses or CIDR ranges (or *) whose X-Forwarded-For and X-Forwarded-Proto set REMOTE_ADDR and ' +
      'wsgi.url_scheme; from anyone else they are passed to the app as sent and believed by nobody (default: no proxy is trusted).',
    peer: 'gunicorn --forwarded-allow-ips, Werkzeug ProxyFix' }),
  setting({ key: 'proxyProtocol', flag: '--proxy-protocol', kind: 'bool', default: false, section: 'listen',
    doc: 'Every --http connection starts with a PROXY protocol header (v1 or v2, as HAProxy send-proxy, AWS NLB and Google Cloud send ' +
      'it) naming the client; only peers in --forwarded-allow-ips may connect.',
    peer: 'gunicorn --proxy-protocol, uWSGI --enable-proxy-protocol, nginx listen proxy_protocol' }),
  setting({ key: 'socketMode', flag: '--socket-mode', kind: 'mode', default: 0o660, section: 'listen',
    doc: 'Permissions of unix sockets warpipe creates (octal).', peer: 'uWSGI --chmod-socket' }),
  setting({ key: 'socketOwner', flag: '--socket-owner', kind: 'string', default: '', section: 'listen',
    doc: 'USER[:GROUP] (or :GROUP) to give the listeners\' unix sockets and --metrics\'s to (default: --user/--group\'s, else the ' +
      'server\'s own), so a web server running as another user can connect: --socket-owner www-data for Debian\'s nginx. --control ' +
      'stays the server\'s own user\'s. Needs root unless it names the server\'s own user and one of its groups.',
    peer: 'uWSGI --chown-socket, spawn-fcgi -U/-G' }),
  // what is served besides the app
  setting({ key: 'static', flag: '--static', kind: 'pair', path: 'pair', default: [], many: true, section: 'app',
    doc: 'PREFIX=DIR: serve the files under DIR at URL prefix PREFIX (GET/HEAD, ETag, Last-Modified, ranges; never outside DIR) ' +
      '(repeatable).',
    peer: 'uWSGI --static-map, nginx location + root' }),
  setting({ key: 'mount', flag: '--mount', kind: 'mount', path: 'mount', default: [], many: true, section: 'app',
    doc: 'PREFIX=fastcgi://ADDRESS: send requests under PREFIX to a FastCGI server; its scripts are found in --document-root (or ' +
      '?root=DIR), split after `.php` (php-fpm), or with ?split=cgi at the first executable file (fcgiwrap), or with ?split=none not ' +
      'looked for (the upstream is the app: flup, web.py). PREFIX=uwsgi://ADDRESS: to a uWSGI --socket; PREFIX=scgi://ADDRESS: to an ' +
      'SCGI server. ADDRESS is HOST:PORT or unix:/path (repeatable).',
    peer: 'nginx location + fastcgi_pass / uwsgi_pass / scgi_pass' }),
  setting({ key: 'cgi', flag: '--cgi', kind: 'pair', path: 'pair', default: [], many: true, section: 'app',
    doc: 'PREFIX=DIR: run the executable CGI scripts in DIR for requests under PREFIX (RFC 3875; the environment is built from the ' +
      'request alone) (repeatable).',
    peer: 'nginx + fcgiwrap, Apache ScriptAlias' }),
  setting({ key: 'documentRoot', flag: '--document-root', kind: 'string', path: 'dir', default: '', section: 'app',
    doc: 'Directory the scripts of --mount fastcgi:// upstreams live in (SCRIPT_FILENAME); a script must exist under it before the ' +
      'upstream is asked.',
    peer: 'nginx root' }),
  setting({ key: 'upstreamTimeout', flag: '--upstream-timeout', kind: 'seconds', default: 60, section: 'timeouts',
    doc: 'An upstream (--mount) that sends nothing for this long gets its client a 504.', peer: 'nginx fastcgi_read_timeout' }),
  setting({ key: 'upstreamKeepalive', flag: '--upstream-keepalive', kind: 'int', default: 0, min: 0, section: 'app',
    doc: 'Idle connections kept open to each --mount upstream (0: a connection per request). With php-fpm keep it below pm.max_children: ' +
      'each kept connection holds a php-fpm child.',
    peer: 'nginx upstream keepalive + fastcgi_keep_conn' }),
  setting({ key: 'middleware', flag: '--middleware', kind: 'string', path: 'module', default: [], many: true, section: 'app',
    doc: 'An ES module whose default export is a Middleware, `(app) => (environ, startResponse) => body`, put around everything ' +
      'served (the Python app, --static, --cgi, --mount) in every gateway: a file (./auth.mjs, ../lib/auth.js, /abs/path.mjs) or a ' +
      'package name (repeatable; the first given is the outermost). See docs/embedding.md.' }),
  setting({ key: 'staticFollowSymlinks', flag: '--static-follow-symlinks', kind: 'bool', default: false, section: 'app',
    doc: 'Let --static serve files through symlinks that lead outside its directory.' }),
  setting({ key: 'staticCacheValid', flag: '--static-cache-valid', kind: 'seconds', default: 2, section: 'app',
    doc: 'How long --static trusts what it found for a path (a file\'s metadata and headers, its bytes when small, its open ' +
      'descriptor when large, a 404) before it checks the disk again: a file changed, replaced or deleted is seen at most this ' +
      'late (0: checked on every request).',
    peer: 'nginx open_file_cache_valid, uWSGI --static-cache-paths' }),
  setting({ key: 'staticMaxAge', flag: '--static-max-age', kind: 'seconds', default: 0, section: 'app',
    doc: '--static answers carry Cache-Control: public, max-age=SECONDS, so browsers and caches keep the files that long without ' +
      'asking (0: no Cache-Control).',
    peer: 'nginx expires, uWSGI --static-expires' }),
  setting({ key: 'compress', flag: '--compress', kind: 'string', default: 'on', section: 'app',
    doc: 'Compress responses on --http and --https for clients that accept it (Accept-Encoding): on (br, zstd where this Node has it, ' +
      'gzip, at measured levels), off, or a list of br, zstd, gzip in order of preference, each with :LEVEL if wanted (br:5,gzip:6). ' +
      'Text, JSON, JavaScript, XML, SVG and WebAssembly of at least --compress-min-size bytes; a stream is compressed block by block. ' +
      '--static also serves FILE.br / FILE.gz beside FILE to clients that accept them.',
    peer: 'nginx gzip + gzip_static, uWSGI --http-auto-gzip' }),
  setting({ key: 'compressMinSize', flag: '--compress-min-size', kind: 'bytes', default: 1024, section: 'app',
    doc: 'Responses smaller than this are sent as they are (their Content-Length, or the whole body\'s length, tells).',
    peer: 'nginx gzip_min_length' }),
  // workers
  setting({ key: 'workers', flag: '--workers', short: '-w', kind: 'range', default: [0, 0], min: 1, section: 'workers',
    doc: 'Number of Python worker processes (default: number of CPUs), or MIN:MAX to scale between them: one more while every worker ' +
      'stays busy, one less after --idle-timeout idle. SIGTTIN/SIGTTOU add/remove one by hand.',
    peer: 'gunicorn --workers, uWSGI --processes / --cheaper, php-fpm pm = dynamic' }),
  setting({ key: 'gateways', flag: '--gateways', kind: 'string', default: '1', section: 'workers',
    doc: 'Gateway processes (N, or auto: one per 2 CPUs, at least 1): each takes connections from every listener and owns a share of ' +
      'the --workers (and of --max-connections and --backlog). A primary process binds the sockets, runs --control and --metrics ' +
      '(summed over the gateways), relays signals and starts a new gateway if one dies.',
    peer: 'nginx worker_processes, uWSGI --processes (each accepts)' }),
  setting({ key: 'idleTimeout', flag: '--idle-timeout', kind: 'seconds', default: 30, section: 'workers',
    doc: 'With --workers MIN:MAX, a worker idle this long is retired while more than MIN run.',
    peer: 'php-fpm pm.process_idle_timeout, uWSGI --cheaper-overload' }),
  setting({ key: 'interface', flag: '--interface', kind: 'string', default: 'auto', section: 'app',
    doc: 'auto, wsgi or asgi. auto: an app that is an async function (or an object whose __call__ is one) is ASGI 3, anything else ' +
      'WSGI (PEP 3333). A wrong explicit choice fails the boot (exit 3).',
    peer: 'uvicorn --interface, Granian --interface' }),
  setting({ key: 'loop', flag: '--loop', kind: 'string', default: 'auto', section: 'app',
    doc: 'ASGI: the event loop of each worker: asyncio, uvloop (the app\'s interpreter must have it), or auto (uvloop when installed).',
    peer: 'uvicorn --loop' }),
  setting({ key: 'asgiConcurrency', flag: '--asgi-concurrency', kind: 'int', default: 100, min: 1, section: 'workers',
    doc: 'ASGI: requests (and WebSockets) one worker serves at once on its event loop; more wait in the gateway\'s queue (--backlog, ' +
      '--queue-timeout). --threads is for WSGI apps only.',
    peer: 'uvicorn --limit-concurrency (per server), Granian --backpressure' }),
  setting({ key: 'threads', flag: '--threads', kind: 'int', default: 1, min: 1, section: 'workers',
    doc: 'Threads per worker; each serves one request at a time.', peer: 'gunicorn --threads, uWSGI --threads' }),
  setting({ key: 'pipeline', flag: '--pipeline', kind: 'int', default: 8, min: 0, section: 'workers',
    doc: 'When every worker is busy, write up to N requests ahead to each, so a worker finds its next request waiting instead of ' +
      'sleeping until the gateway answers. Only behind requests that usually finish fast (the queue written ahead must be expected to ' +
      'finish within 1 ms, and never behind a request already running longer); a request that turns out slow delays those written behind ' +
      'it. 0: requests wait in the gateway until a worker is free.' }),
  setting({ key: 'preload', flag: '--preload', kind: 'bool', default: false, section: 'workers',
    doc: 'Import the app once, in a template process, and fork the workers from it: their memory is shared copy-on-write and a new ' +
      'worker starts in milliseconds. A reload starts a new template, so it loads the new code.',
    peer: 'gunicorn --preload, uWSGI (default without --lazy-apps)' }),
  setting({ key: 'timeout', flag: '--timeout', kind: 'seconds', default: 0, section: 'workers',
    doc: 'A request running longer than this gets its client a 504; its worker prints the Python stack of every thread (so the log shows ' +
      'where it hung), is killed and replaced (0: no limit).',
    peer: 'uWSGI --harakiri, gunicorn --timeout, php-fpm request_terminate_timeout' }),
  setting({ key: 'maxRequests', flag: '--max-requests', kind: 'int', default: 0, min: 0, section: 'workers',
    doc: 'Replace a worker after it has served this many requests (0: never). Its replacement is ready before it stops taking requests.',
    peer: 'gunicorn --max-requests, uWSGI --max-requests' }),
  setting({ key: 'maxRequestsJitter', flag: '--max-requests-jitter', kind: 'int', default: 0, min: 0, section: 'workers',
    doc: 'Add up to this many requests, at random per worker, to --max-requests, so workers are not all replaced at once.',
    peer: 'gunicorn --max-requests-jitter' }),
  setting({ key: 'maxRss', flag: '--max-rss', kind: 'int', default: 0, min: 0, section: 'workers',
    doc: 'Replace a worker whose resident memory exceeds this many MiB (checked every second; 0: no limit).',
    peer: 'uWSGI --reload-on-rss' }),
  setting({ key: 'maxLifetime', flag: '--max-lifetime', kind: 'seconds', default: 0, section: 'workers',
    doc: 'Replace a worker after it has run this long (0: never).', peer: 'uWSGI --max-worker-lifetime' }),
  setting({ key: 'backlog', flag: '--backlog', kind: 'int', default: 2048, min: 1, section: 'workers',
    doc: 'Most requests waiting in the gateway for a free worker; more get 503 with Retry-After at once.',
    peer: 'uWSGI --listen (the queue it bounds)' }),
  setting({ key: 'queueTimeout', flag: '--queue-timeout', kind: 'seconds', default: 0, section: 'workers',
    doc: 'A request waiting longer than this for a free worker gets 503 with Retry-After (0: it waits as long as it takes).',
    peer: 'HAProxy timeout queue' }),
  setting({ key: 'reload', flag: '--reload', kind: 'bool', default: false, section: 'workers',
    doc: 'Development: reload gracefully whenever a .py file changes under the app\'s directory (--chdir, else the current one) or a ' +
      '--pythonpath directory.',
    peer: 'gunicorn --reload, uWSGI --py-autoreload' }),
  setting({ key: 'reloadExtra', flag: '--reload-extra', kind: 'string', default: [], many: true, section: 'workers',
    doc: 'With --reload, also reload when files matching this glob change (repeatable; * within a name, ** across directories; relative ' +
      'to the app\'s directory).',
    peer: 'gunicorn --reload-extra-file' }),
  setting({ key: 'control', flag: '--control', kind: 'string', path: 'file', default: '', section: 'workers',
    doc: 'Serve a control socket (unix, mode 0600) at this path, for `warpipe status --control PATH` and `warpipe reload --control PATH`.',
    peer: 'uWSGI --master-fifo, --stats' }),
  setting({ key: 'touchReload', flag: '--touch-reload', kind: 'string', path: 'file', default: '', section: 'workers',
    doc: 'Reload gracefully (as on SIGHUP) whenever this file is modified or touched.', peer: 'uWSGI --touch-reload' }),
  setting({ key: 'gracefulTimeout', flag: '--graceful-timeout', kind: 'seconds', default: 30, section: 'workers',
    doc: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish before the workers are killed.',
    peer: 'gunicorn --graceful-timeout' }),
  setting({ key: 'bootTimeout', flag: '--boot-timeout', kind: 'seconds', default: 60, section: 'workers',
    doc: 'How long a worker may take to import the app (and answer its --warmup requests) before it counts as failed.' }),
  setting({ key: 'warmup', flag: '--warmup', kind: 'string', default: [], many: true, section: 'workers',
    doc: 'PATH (with an optional ?query): every new worker (at start, on reload, respawns and replacements) gets a GET for it before ' +
      'it takes traffic, so caches are filled and lazy imports done (repeatable, in order). A 5xx, or no answer within --boot-timeout, ' +
      'fails the worker as if it had not imported: exit 3 at start, a reload rolled back (the old workers keep serving).',
    peer: 'uWSGI --hook-post-fork / mod_wsgi preload, done by hand elsewhere' }),
  setting({ key: 'health', flag: '--health', kind: 'string', default: '', section: 'listen',
    doc: 'PATH answered by the gateway itself on every --http/--https listener, before --static, --mount and the app: 200 with ' +
      '{"status":"ok",...} (workers serving, busy, queued) while a worker serves and the queue is not full, 503 while booting, ' +
      'draining or saturated. For load balancer and Kubernetes probes (GET and HEAD).',
    peer: 'php-fpm ping.path, HAProxy monitor-uri' }),
  setting({ key: 'pidFile', flag: '--pid-file', kind: 'string', default: '', section: 'workers',
    doc: 'Write the (primary) process id to this file once the sockets are bound; removed on exit. A file naming a running warpipe ' +
      'refuses the start (exit 1); a stale one is replaced.',
    peer: 'gunicorn --pid, nginx pid' }),
  // limits
  setting({ key: 'maxConnections', flag: '--max-connections', kind: 'int', default: 10000, min: 0, section: 'limits',
    doc: 'Client connections held at once over all listeners (0: no limit). A new one over it closes the kept-alive HTTP connection ' +
      'idle longest to make room (as nginx reuses connections); with none idle it is answered 503 at once, costing no worker.',
    peer: 'nginx worker_connections, gunicorn --worker-connections' }),
  setting({ key: 'maxConnectionsPerIp', flag: '--max-connections-per-ip', kind: 'int', default: 0, min: 0, section: 'limits',
    doc: 'Client connections held at once from one IP address (0: no limit); more are answered 503.',
    peer: 'nginx limit_conn' }),
  setting({ key: 'http2MaxStreams', flag: '--http2-max-streams', kind: 'int', default: 100, min: 1, section: 'limits',
    doc: 'Concurrent streams per HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS); a client opening more breaks the protocol and its ' +
      'connection is closed (GOAWAY). ' +
      'Header lists are held to --limit-request-headers and --limit-request-fields.',
    peer: 'nginx http2_max_concurrent_streams' }),
  setting({ key: 'http2MaxResets', flag: '--http2-max-resets', kind: 'int', default: 200, min: 1, section: 'limits',
    doc: 'HTTP/2 streams an HTTP/2 connection may see reset before their answer (by the client, or by warpipe for the client\'s protocol ' +
      'error) in 10 s; past it the connection gets GOAWAY ENHANCE_YOUR_CALM and the work of its open streams is stopped (rapid reset, ' +
      'CVE-2023-44487; MadeYouReset, CVE-2025-8671).',
    peer: 'nghttp2 stream reset rate limit' }),
  setting({ key: 'limitRequestLine', flag: '--limit-request-line', kind: 'int', default: 8190, min: 64, section: 'limits',
    doc: 'Longest request line in bytes; longer gets 414.', peer: 'gunicorn --limit-request-line' }),
  setting({ key: 'limitRequestFields', flag: '--limit-request-fields', kind: 'int', default: 100, min: 1, section: 'limits',
    doc: 'Most header fields in a request; more gets 431.', peer: 'gunicorn --limit-request-fields' }),
  setting({ key: 'limitRequestFieldSize', flag: '--limit-request-field-size', kind: 'int', default: 8190, min: 64, section: 'limits',
    doc: 'Longest header field line in bytes; longer gets 431.', peer: 'gunicorn --limit-request-field_size' }),
  setting({ key: 'limitRequestHeaders', flag: '--limit-request-headers', kind: 'bytes', default: 65536, min: 256, section: 'limits',
    doc: 'Largest request head (request line and all fields) in bytes; larger gets 431.', peer: 'nginx large_client_header_buffers' }),
  setting({ key: 'limitRequestBody', flag: '--limit-request-body', kind: 'bytes', default: 1 << 30, section: 'limits',
    doc: 'Largest request body (0: no limit); larger gets 413. Accepts K, M, G suffixes.',
    peer: 'uWSGI --limit-post, nginx client_max_body_size' }),
  setting({ key: 'bufferRequestBody', flag: '--buffer-request-body', kind: 'bytes', default: 1 << 20, section: 'limits',
    doc: 'Request bodies up to this size are read whole before a worker is given the request (so slow uploads cost no worker); larger ' +
      'ones stream.',
    peer: 'nginx client_body_buffer_size' }),
  setting({ key: 'spoolRequestBody', flag: '--spool-request-body', kind: 'bytes', default: 0, section: 'limits',
    doc: 'Bodies of a known length larger than --buffer-request-body and up to this size are written to a temporary file as they arrive, ' +
      'and the app is called once the whole body is in: a slow upload then holds disk, not a worker (0: off, such bodies stream to the ' +
      'app). Chunked bodies always stream.',
    peer: 'nginx client_body_temp_path' }),
  setting({ key: 'spoolDir', flag: '--spool-dir', kind: 'string', path: 'dir', default: '', section: 'limits',
    doc: 'Directory for --spool-request-body files (default: $TMPDIR or /tmp); each file is unlinked as soon as it is made.',
    peer: 'nginx client_body_temp_path' }),
  setting({ key: 'bufferResponse', flag: '--buffer-response', kind: 'bytes', default: 1 << 20, section: 'limits',
    doc: 'Response bytes held per connection for a slow client before the worker is made to wait.',
    peer: 'nginx proxy_buffers' }),
  setting({ key: 'websocketMaxMessage', flag: '--websocket-max-message', kind: 'bytes', default: 16 << 20, min: 1, section: 'limits',
    doc: 'The largest WebSocket message a client may send (after decompression); a larger one closes the WebSocket with 1009.',
    peer: 'uvicorn --ws-max-size' }),
  // timeouts
  setting({ key: 'headerTimeout', flag: '--header-timeout', kind: 'seconds', default: 10, section: 'timeouts',
    doc: 'A client must send a complete request head within this time of starting it (slowloris guard); on --fastcgi/--scgi/--uwsgi, the ' +
      'CGI variables of a request.',
    peer: 'nginx client_header_timeout' }),
  setting({ key: 'bodyTimeout', flag: '--body-timeout', kind: 'seconds', default: 30, section: 'timeouts',
    doc: 'An upload that sends nothing for this long gets 408 and is closed (a gateway connection is closed).',
    peer: 'nginx client_body_timeout' }),
  setting({ key: 'minUploadRate', flag: '--min-upload-rate', kind: 'bytes', default: 500, section: 'timeouts',
    doc: 'Bytes per second a body larger than --buffer-request-body (streamed to a worker as it arrives) must average after a grace of ' +
      '--body-timeout, else the client is cut off: a trickling upload cannot hold a worker (0: no floor).',
    peer: 'Apache mod_reqtimeout MinRate' }),
  setting({ key: 'keepaliveTimeout', flag: '--keepalive-timeout', kind: 'seconds', default: 75, section: 'timeouts',
    doc: 'Idle keep-alive connections are closed after this long, announced in a Keep-Alive: timeout=N header (0: no keep-alive). ' +
      'Longer than a load balancer\'s idle pool (60 s for AWS ALB and nginx), so it closes first; when --max-connections is reached, ' +
      'the connection idle longest is closed to make room for a new one.',
    peer: 'gunicorn --keep-alive, nginx keepalive_timeout' }),
  setting({ key: 'sendTimeout', flag: '--send-timeout', kind: 'seconds', default: 60, section: 'timeouts',
    doc: 'A client that accepts no response bytes for this long is disconnected.', peer: 'nginx send_timeout' }),
  setting({ key: 'websocketPingInterval', flag: '--websocket-ping-interval', kind: 'seconds', default: 20, section: 'timeouts',
    doc: 'A WebSocket that has received nothing for this long is sent a ping (0: no pings); --timeout does not apply to WebSockets.',
    peer: 'uvicorn --ws-ping-interval' }),
  setting({ key: 'websocketPingTimeout', flag: '--websocket-ping-timeout', kind: 'seconds', default: 20, section: 'timeouts',
    doc: 'A WebSocket whose client sends nothing (not even the pong) within this long of a ping is closed (1011 to the app).',
    peer: 'uvicorn --ws-ping-timeout' }),
  // logging
  setting({ key: 'logLevel', flag: '--log-level', kind: 'level', default: 'info', section: 'logging',
    doc: 'debug, info, warning, error or critical.', peer: 'gunicorn --log-level' }),
  setting({ key: 'metrics', flag: '--metrics', kind: 'address', path: 'socket', default: null, section: 'logging',
    doc: 'Serve Prometheus metrics at GET /metrics on this HOST:PORT or unix:/path, a listener of its own (requests by status, latency, ' +
      'workers by state, queue, restarts, the gateway\'s CPU and memory).',
    peer: 'uWSGI --stats, gunicorn --statsd-host' }),
  setting({ key: 'logFile', flag: '--log-file', kind: 'string', path: 'file', default: '', section: 'logging',
    doc: 'Write the log (and the workers\' own stdout and stderr) to this file instead of stderr; SIGUSR1 reopens it after rotation.',
    peer: 'gunicorn --error-logfile, uWSGI --logto' }),
  setting({ key: 'accessLog', flag: '--access-log', kind: 'string', path: 'file', default: '', section: 'logging',
    doc: 'Write a line per request to this file (- for stdout); SIGUSR1 reopens it after rotation (default: no access log).',
    peer: 'gunicorn --access-logfile, nginx access_log' }),
  setting({ key: 'accessLogFormat', flag: '--access-log-format', kind: 'string', default: 'combined', section: 'logging',
    doc: 'combined, common, json, or a template of nginx variables: $remote_addr $remote_user $time_local $time_iso8601 $msec $request ' +
      '$request_method $request_uri $uri $query_string $server_protocol $host $status $body_bytes_sent $request_time $request_time_us ' +
      '$listener $pid $cut (shutdown: the server cut it off at --graceful-timeout) $http_NAME.',
    peer: 'nginx log_format, gunicorn --access-logformat' }),
] as const;

/** The table, entry by entry (the help, the parser and the README test walk it). */
export const settings: readonly Setting[] = table;

/** What one setting holds: a list when it is `many`, possibly null when its default is null. */
type ValueOf<S extends Setting> = S extends { readonly many: true }
  ? readonly KindValues[S['kind']][]
  : S extends { readonly default: null }
    ? KindValues[S['kind']] | null
    : KindValues[S['kind']];

/** Every setting's value by its key, as read from argv, the environment and the defaults (before src/config/resolve.ts). */
export type SettingValues = { readonly [S in (typeof table)[number] as S['key']]: ValueOf<S> };

/** The table's entries with their literal keys, kinds and `many` (startGateway's option types are derived from it: src/embed.ts). */
export type SettingEntry = (typeof table)[number];
