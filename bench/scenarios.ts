// The benchmark's scenarios: what load wrk puts on each server. One entry per
// scenario; adding one is a few lines here (plus an app in bench/apps/ if it
// needs a new one). Every server serves the same app module for a scenario.

import type { Protocol } from './h2load.js';
import { uvicornPython, type Server } from './servers.js';
import { STATIC_LINE, STATIC_PREFIX } from './static-files.js';

/** A WSGI (or, with `interface`, ASGI 3) app in bench/apps/: MODULE.py exposing CALLABLE. */
export interface AppRef {
  module: string;
  callable: string;
  /** an ASGI 3 app: only servers whose `interfaces` include 'asgi' run it (the others silently do not apply) */
  interface?: 'asgi';
  /**
   * the interpreter every server runs it on, when one is named (so both sides of a comparison use the same
   * Python, uvloop and framework): null or absent, each server's own
   */
  python?: () => string | null;
  /** Python modules the app imports (checked per server interpreter; Debian/pip package named in `hint`) */
  needs?: { module: string; hint: string }[];
  /** the server also serves the bench's static files (bench/static-files.ts) under /static */
  static?: boolean;
}

/** Clients the bench itself holds open on the server during warm-up and the measured run. */
export interface Holders {
  /**
   * slowloris: send a partial request head, then one more header byte every second;
   * idle: make one complete keep-alive request, then stay silent.
   * Either way a connection the server closes is replaced (each slot reconnects at most once a second).
   */
  kind: 'slowloris' | 'idle';
  count: number;
}

export interface Scenario {
  name: string;
  title: string;
  app: AppRef;
  /** the request path wrk sends (and readiness checks) */
  path: string;
  /** a readiness GET of `path` must answer 200 with a body containing this */
  expect: string;
  /** Lua run by wrk before our done() hook: set wrk.method/wrk.body/wrk.headers or define request() */
  lua?: string;
  /** more wrk arguments, e.g. ['-H', 'Connection: close'] */
  wrkArgs?: string[];
  /** overrides --connections for this scenario */
  connections?: number;
  /** measured seconds unless --duration is given (default: DEFAULT_DURATION) */
  duration?: number;
  /** wrk --timeout in seconds (default 2) */
  timeout?: number;
  /** wrk needs this many file descriptors: it is run under `sh -c 'ulimit -n N; exec wrk ...'` */
  fds?: number;
  /** request + response payload per request: the throughput column is MiB/s instead of req/s */
  bytesPerRequest?: number;
  /** connections held open by the bench while wrk runs */
  holders?: Holders;
  /**
   * req/s is also reported as a ratio to this scenario's run of the same server in the same
   * invocation; the bench runs that scenario first (adding it when only this one was asked for).
   */
  baseline?: string;
  /** null when the scenario applies to `server`; else why not (shown under "Not run") */
  skip?(server: Server): string | null;
  /** a WebSocket echo load (bench/ws-client.ts) on `path` instead of wrk: requests are round trips */
  websocket?: { deflate: boolean };
  /**
   * the HTTP/2 section's loads: `protocol` spoken by h2load (bench/h2load.ts) with `streams` concurrent streams per
   * connection (HTTP/1.1: always 1), or by wrk (HTTP/1.1 in the clear only). Only servers whose `speaks` lists the
   * protocol run it. Without it a scenario is plain HTTP/1.1 under wrk.
   */
  http?: { protocol: Protocol; client: 'h2load' | 'wrk'; streams: number };
  /** the report groups it under this section (default: the WSGI results) */
  group?: 'asgi' | 'h2';
}

/** Measured seconds of a scenario that names none (and no --duration given). */
export const DEFAULT_DURATION = 5;

const flask = { module: 'flask', hint: 'Debian python3-flask, or pip install flask' };
const hello: AppRef = { module: 'hello', callable: 'application' };
const payload: AppRef = { module: 'payload', callable: 'application' };
const KiB = 1024;
const MiB = 1024 * KiB;

/** A static file of the bench's (bench/static-files.ts), beside the hello app, for the servers with a static file feature. */
const staticFile = (name: string, file: string, title: string, more: Partial<Scenario> = {}): Scenario => ({
  name,
  title,
  app: { ...hello, static: true },
  path: `${STATIC_PREFIX}/${file}`,
  expect: STATIC_LINE.trim(),
  skip: (server) => (server.static ? null : 'no static file feature in this setup'),
  ...more,
});

/** wrk Lua: POST a body of `bytes` bytes on every request. */
const post = (bytes: number): string =>
  `wrk.method = "POST"\nwrk.body = string.rep("x", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`;

/** The plain hello-world run, with `holders` clients held open meanwhile, reported as a ratio to the plain run. */
const underSiege = (name: string, holders: Holders, title: string): Scenario => ({
  name,
  title: `hello-world while ${title}; req/s ÷ the same server's plain hello run`,
  app: hello,
  path: '/',
  expect: 'Hello, World!',
  duration: 5,
  holders,
  baseline: 'hello',
});

/** What Chrome and Firefox send (warpipe picks br), and what curl and older clients send. */
const BROWSER = 'Accept-Encoding: gzip, deflate, br, zstd';
const GZIP = 'Accept-Encoding: gzip, deflate';

/** --compress: a Flask JSON API answer and a 100 KiB text file, without Accept-Encoding (the baselines) and with it. */
function compressed(): Scenario[] {
  const flaskList = (name: string, accept: string | null, what: string): Scenario => ({
    name,
    title: `Flask JSON, 9.5 KiB: GET /list, jsonify(60 records)${what}`,
    app: { module: 'flask_app', callable: 'application', needs: [flask] },
    path: '/list',
    expect: '"email"',
    ...(accept === null ? {} : { wrkArgs: ['-H', accept], baseline: 'flask10k' }),
  });
  const text = (name: string, file: string, accept: string | null, what: string): Scenario =>
    staticFile(name, file, `static text file, 100 KiB: GET /static/${file}${what}`, {
      ...(accept === null ? {} : { wrkArgs: ['-H', accept], baseline: 'static100k' }),
    });
  return [
    flaskList('flask10k', null, ', no Accept-Encoding'),
    flaskList('flask10k-br', BROWSER, `, ${BROWSER} (a browser's): compressed; req/s ÷ flask10k`),
    flaskList('flask10k-gzip', GZIP, `, ${GZIP}: compressed; req/s ÷ flask10k`),
    text('static100k', '100k.txt', null, ', no Accept-Encoding'),
    text('static100k-br', '100k.txt', BROWSER, `, ${BROWSER}: compressed per request (no 100k.txt.br); req/s ÷ static100k`),
    text('static100k-pre', 'pre100k.txt', BROWSER, `, ${BROWSER}: pre100k.txt.br beside it is sent; req/s ÷ static100k`),
  ];
}

/** ASGI: the same loads on ASGI 3 apps, against uvicorn (bench/servers.ts), reported in their own section. */
function asgi(): Scenario[] {
  // warpipe runs the HTTP apps on uvicorn's virtualenv interpreter when there is one: the same uvloop and FastAPI
  const sameAsUvicorn = (): string | null => (uvicornPython() ? uvicornPython() : null);
  const ws = (name: string, deflate: boolean, what: string): Scenario => ({
    name,
    title: `WebSocket echo round trips: 50 connections, each sends a ~420-byte JSON text message and waits for its echo; ${what}`,
    app: { module: 'asgi_ws_echo', callable: 'app', interface: 'asgi' },
    path: '/ws',
    expect: 'WebSocket echo',
    websocket: { deflate },
    group: 'asgi',
  });
  return [
    {
      name: 'asgi-hello',
      title: 'the smallest ASGI 3 app: two send() calls, 13-byte text/plain body',
      app: { module: 'asgi_hello', callable: 'app', interface: 'asgi', python: sameAsUvicorn },
      path: '/',
      expect: 'Hello, World!',
      group: 'asgi',
    },
    {
      name: 'fastapi-json',
      title: 'FastAPI JSON: GET /json, an async endpoint returning {"message": "Hello, World!"}',
      app: {
        module: 'fastapi_json',
        callable: 'app',
        interface: 'asgi',
        python: sameAsUvicorn,
        needs: [{ module: 'fastapi', hint: 'Debian python3-fastapi, or pip install fastapi' }],
      },
      path: '/json',
      expect: '"message"',
      group: 'asgi',
    },
    ws('ws-echo', false, 'the client offers no compression'),
    ws('ws-deflate', true, 'the client offers permessage-deflate (client_max_window_bits), as browsers do'),
  ];
}

/** HTTP/2 runs: 5 connections x 10 streams, as many requests in flight as the HTTP/1.1 runs' 50 connections. */
export const H2_CONNECTIONS = 5;
export const H2_STREAMS = 10;

/**
 * HTTP/2 (h2load, h2c with prior knowledge and h2 over TLS by ALPN) against HTTP/1.1 (the same h2load with --h1, and wrk)
 * on the hello and Flask apps, reported in their own section; each HTTP/2 run also as a ratio to its HTTP/1.1 pair.
 */
function http2(): Scenario[] {
  const flaskJson: Pick<Scenario, 'app' | 'path' | 'expect'> = {
    app: { module: 'flask_app', callable: 'application', needs: [flask] },
    path: '/json',
    expect: '"message"',
  };
  const helloWorld: Pick<Scenario, 'app' | 'path' | 'expect'> = { app: hello, path: '/', expect: 'Hello, World!' };
  const h1 = (name: string, what: Pick<Scenario, 'app' | 'path' | 'expect'>, protocol: Protocol, title: string): Scenario => ({
    name,
    title: `${title} over HTTP/1.1${protocol === 'h1-tls' ? ' over TLS' : ''}: h2load --h1, 50 connections, one request at a time on each`,
    ...what,
    http: { protocol, client: 'h2load', streams: 1 },
    group: 'h2',
  });
  const h2 = (
    name: string,
    what: Pick<Scenario, 'app' | 'path' | 'expect'>,
    protocol: Protocol,
    title: string,
    baseline: string,
  ): Scenario => ({
    name,
    title:
      `${title} over HTTP/2 (${protocol === 'h2c' ? 'h2c, prior knowledge' : 'TLS, h2 by ALPN'}): h2load, ` +
      `${H2_CONNECTIONS} connections x ${H2_STREAMS} streams; req/s ÷ ${baseline}`,
    ...what,
    connections: H2_CONNECTIONS,
    http: { protocol, client: 'h2load', streams: H2_STREAMS },
    baseline,
    group: 'h2',
  });
  return [
    h1('h2-hello-h1', helloWorld, 'h1', 'hello-world'),
    h2('h2-hello', helloWorld, 'h2c', 'hello-world', 'h2-hello-h1'),
    {
      name: 'h2-hello-wrk',
      title: 'hello-world over HTTP/1.1 under wrk -c 50 (the hello scenario of the main results), for the h2load --h1 figure',
      ...helloWorld,
      http: { protocol: 'h1', client: 'wrk', streams: 1 },
      group: 'h2',
    },
    h1('h2-hello-tls-h1', helloWorld, 'h1-tls', 'hello-world'),
    h2('h2-hello-tls', helloWorld, 'h2-tls', 'hello-world', 'h2-hello-tls-h1'),
    h1('h2-flask-h1', flaskJson, 'h1', 'Flask JSON (GET /json)'),
    h2('h2-flask', flaskJson, 'h2c', 'Flask JSON (GET /json)', 'h2-flask-h1'),
  ];
}

export const scenarios: Scenario[] = [
  {
    name: 'hello',
    title: 'hello-world: plain WSGI, 13-byte text/plain body',
    app: hello,
    path: '/',
    expect: 'Hello, World!',
  },
  {
    name: 'close',
    title: 'hello-world, a new connection per request (Connection: close): health checkers, proxies without upstream keepalive',
    app: hello,
    path: '/',
    expect: 'Hello, World!',
    wrkArgs: ['-H', 'Connection: close'],
  },
  {
    name: 'flask',
    title: 'Flask JSON: GET /json, jsonify({"message": "Hello, World!"})',
    app: { module: 'flask_app', callable: 'application', needs: [flask] },
    path: '/json',
    expect: '"message"',
  },
  {
    name: 'get10k',
    title: '10 KiB response: GET /10k, one 10,240-byte bytes object',
    app: payload,
    path: '/10k',
    expect: 'xxxxxxxx',
  },
  {
    name: 'echo10k',
    title: '10 KiB POST echo: wrk POSTs 10,240 bytes to /echo, the app reads them and sends them back',
    app: payload,
    path: '/echo',
    expect: 'POST a body',
    lua: post(10 * KiB),
  },
  {
    name: 'down10m',
    title: '10 MiB response: GET /10m, streamed by the app in 64 KiB chunks; 4 connections',
    app: payload,
    path: '/10m',
    expect: 'xxxxxxxx',
    connections: 4,
    duration: 4,
    timeout: 30,
    bytesPerRequest: 10 * MiB,
  },
  {
    name: 'up10m',
    title: '10 MiB upload: wrk POSTs 10 MiB to /upload, the app reads it in 64 KiB reads; 4 connections',
    app: payload,
    path: '/upload',
    expect: 'received',
    lua: post(10 * MiB),
    connections: 4,
    duration: 4,
    timeout: 30,
    bytesPerRequest: 10 * MiB,
  },
  ...compressed(),
  staticFile('static1k', '1k.txt', 'static file, 1 KiB: GET /static/1k.txt from the server itself (warpipe --static), 50 connections'),
  staticFile('static1m', '1m.txt', 'static file, 1 MiB: GET /static/1m.txt from the server itself (warpipe --static); 10 connections', {
    connections: 10,
    timeout: 10,
    bytesPerRequest: MiB,
  }),
  underSiege('slowloris50', { kind: 'slowloris', count: 50 }, '50 slowloris clients hold connections open'),
  underSiege('slowloris500', { kind: 'slowloris', count: 500 }, '500 slowloris clients hold connections open'),
  underSiege('idle500', { kind: 'idle', count: 500 }, '500 idle keep-alive connections are held open'),
  {
    name: 'conn1000',
    title: '1,000 concurrent keep-alive connections: hello-world under wrk -c1000',
    app: hello,
    path: '/',
    expect: 'Hello, World!',
    connections: 1000,
    duration: 5,
    fds: 4096,
  },
  ...asgi(),
  ...http2(),
];
