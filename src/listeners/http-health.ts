// --health PATH: the gateway's own answer to load balancer and Kubernetes
// probes, on every HTTP listener, before the app chain (router, --static,
// --mount, middleware, the pool): a probe must say whether *this* server can
// serve, whatever the app's routes are, and must cost no worker.
//
//   200 {"status":"ok","workers":N,"busy":B,"queued":Q}   at least one worker serves and the queue has room
//   503 {"status":"booting"|"draining"|"saturated"|"no workers",...}   otherwise
//
// GET and HEAD (HEAD: the same head, no body); anything else 405 with Allow.
// Never cached (Cache-Control: no-store): a cached 200 would hide an outage.
// With --gateways N each gateway answers for its own share of the pool.
//
// The check on the hot path is one comparison per request (`isHealthTarget`),
// and none without --health; the answer itself goes through the ordinary
// Exchange, so the access log, metrics, keep-alive and HEAD work as for any request.

import type { App, Environ } from '../pipeline/types.js';

/** What the pool says of itself for a probe (the Arbiter's `health()`). */
export interface PoolHealth {
  /** The pool's phase: new, booting, serving, reloading, stopping. */
  readonly phase: string;
  /** Workers taking requests now. */
  readonly serving: number;
  /** Of those, how many run a request now. */
  readonly busy: number;
  /** Requests waiting for a worker. */
  readonly queued: number;
  /** The most that may wait (--backlog). */
  readonly backlog: number;
}

/** --health: the path, and the pool it reports on. */
export interface HealthOptions {
  readonly path: string;
  readonly pool: { health(): PoolHealth };
}

/** Whether a request target is the health path (query string allowed, nothing else). */
export function isHealthTarget(target: string, path: string): boolean {
  return target.startsWith(path) && (target.length === path.length || target.charCodeAt(path.length) === 0x3f) /* ? */;
}

/** The probe's verdict: 'ok', or why not. */
export function healthStatus(h: PoolHealth, draining: boolean): string {
  if (draining || h.phase === 'stopping') return 'draining';
  if (h.serving === 0) return h.phase === 'booting' || h.phase === 'new' ? 'booting' : 'no workers';
  if (h.queued >= h.backlog) return 'saturated';
  return 'ok';
}

const ALLOW: [string, string][] = [
  ['Allow', 'GET, HEAD'],
  ['Content-Type', 'text/plain; charset=utf-8'],
  ['Cache-Control', 'no-store'],
];

/**
 * The answer as an App. `draining`: whether the listener is closing (SIGTERM), which the
 * pool does not know until the connections are drained.
 * @example
 * const app = healthApp({ path: '/healthz', pool }, () => listener.closing);
 */
export function healthApp(options: HealthOptions, draining: () => boolean): App {
  return (environ: Environ, startResponse) => {
    const method = environ.REQUEST_METHOD;
    if (method !== 'GET' && method !== 'HEAD') {
      startResponse(
        '405 Method Not Allowed',
        ALLOW.map(([n, v]): [string, string] => [n, v]),
      );
      return ['Method Not Allowed: the health check answers GET and HEAD\n'];
    }
    const h = options.pool.health();
    const status = healthStatus(h, draining());
    const body = `${JSON.stringify({ status, workers: h.serving, busy: h.busy, queued: h.queued })}\n`;
    startResponse(status === 'ok' ? '200 OK' : '503 Service Unavailable', [
      ['Content-Type', 'application/json'],
      ['Cache-Control', 'no-store'],
      ...(status === 'ok' ? [] : [['Retry-After', '1'] as [string, string]]),
    ]);
    return [body];
  };
}
