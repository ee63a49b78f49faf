// --warmup PATH: the environ of a warm-up request, as the HTTP listener would
// build it for `GET PATH` from 127.0.0.1 to the first listener, plus
// HTTP_X_WARPIPE_WARMUP=1 so an app can tell (and, say, skip its analytics).
// The pool sends it (src/workers/warmup.ts) to every new worker before it serves.

import { ConfigError } from '../errors.js';
import { decodePath, splitTarget } from '../pipeline/environ.js';
import type { Environ } from '../pipeline/types.js';
import type { WarmupRequest } from '../workers/warmup.js';
import { encodeEnviron } from './python-app.js';

/** Where the first listener is, once bound: what SERVER_NAME, SERVER_PORT and Host say. */
export interface WarmupServer {
  name: string;
  port: string;
  scheme: 'http' | 'https';
  serverSoftware: string;
}

/** A --health or --warmup value must be an origin-form path: /, then no space, control character or #. */
export function checkRequestPath(flag: string, value: string): void {
  if (!/^\/[^\s#\0-\x1f\x7f]*$/.test(value)) {
    throw new ConfigError(`${flag} must be a path starting with / (an optional ?query, no spaces), got "${value}"`);
  }
  try {
    decodePath(splitTarget(value, 'GET').path);
  } catch (err) {
    throw new ConfigError(`${flag} ${(err as Error).message}, got "${value}"`);
  }
}

/** One warm-up request per path; `server` is asked when each is sent (the listeners are bound by then). */
export function warmupRequests(paths: readonly string[], server: () => WarmupServer): WarmupRequest[] {
  return paths.map((target) => ({ describe: `GET ${target}`, environ: () => encodeEnviron(warmupEnviron(target, server())) }));
}

export function warmupEnviron(target: string, server: WarmupServer): Environ {
  const { path, query } = splitTarget(target, 'GET');
  const host = server.port === '' ? server.name : `${server.name}:${server.port}`;
  return {
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: decodePath(path),
    QUERY_STRING: query,
    REQUEST_URI: target,
    RAW_URI: target,
    SERVER_NAME: server.name,
    SERVER_PORT: server.port,
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_HOST: '127.0.0.1',
    REMOTE_PORT: '0',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: server.serverSoftware,
    HTTP_HOST: host,
    HTTP_USER_AGENT: server.serverSoftware,
    HTTP_X_WARPIPE_WARMUP: '1',
    'wsgi.url_scheme': server.scheme,
    ...(server.scheme === 'https' ? { HTTPS: 'on' } : {}),
  } as Partial<Environ> as Environ;
}
