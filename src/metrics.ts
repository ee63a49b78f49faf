// --metrics ADDRESS: Prometheus metrics on a listener of their own (never on
// the app's port, so they are not public by accident), like uWSGI's stats
// server. `prom-client` formats them and adds the gateway's own process
// metrics (CPU, memory, event-loop lag, GC) under warpipe_gateway_.
//
// Per request (told by the listeners, as the access log is): a counter by
// listener and status code, a duration histogram and the body bytes sent,
// kept in plain numbers and arrays (~50 ns a request; prom-client's own
// Counter and Histogram hash their labels on every call, 0.7 µs) and handed to
// prom-client only when Prometheus scrapes. The pool is read at scrape time
// too: workers by state, their memory, the queue, and the arbiter's counts of
// spawns, crashes, timeouts, recycles, reloads and 503s.
// Labels take only values warpipe chooses (never a method or a path a client
// sent), so a client cannot grow the number of series.

import http from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { AccessEntry, RequestObserver } from './access-log.js';
import type { Address } from './address.js';
import type { Listener, ListenerConnection } from './listeners/base.js';
import { bind, type SocketOwner } from './listeners/bind.js';
import { Http2Connection } from './listeners/http2-connection.js';
import type { ConnectionBudget } from './listeners/budget.js';
import type { Logger } from './log.js';
import type { Arbiter } from './workers/arbiter.js';

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface MetricsSources {
  pool: Arbiter;
  /** The listeners by name, read at scrape time (they are made after the metrics, which they report to). */
  listeners: () => Record<string, Listener<ListenerConnection>>;
  budget: ConnectionBudget;
  version: string;
}

/** One listener's request numbers since start. */
interface Tally {
  /** Requests by status code (a sparse array: codes are 100-599). */
  codes: number[];
  /** Durations: buckets[i] counts those <= DURATION_BUCKETS[i] and above the one before; the last, the rest. */
  buckets: Float64Array;
  seconds: number;
  bytes: number;
}

export class Metrics implements RequestObserver {
  readonly registry = new Registry();
  private readonly tallies = new Map<string, Tally>();
  /** Requests by SERVER_PROTOCOL (HTTP/1.1, HTTP/2, ...; `-` for a request refused before its line was read). */
  private readonly protocols = new Map<string, number>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const { pool, listeners, budget } = sources;
    collectDefaultMetrics({ register: this.registry, prefix: 'warpipe_gateway_' });
    // (aggregator: with --gateways N, the primary sums each gateway's metrics but this one)
    const info = { name: 'warpipe_info', help: 'Always 1; the version is in the label.', aggregator: 'first' } as const;
    new Gauge({ ...info, labelNames: ['version'], registers }).set({ version: sources.version }, 1);

    const tallies = this.tallies;
    new Counter({
      name: 'warpipe_requests_total',
      help: 'Requests answered, by listener and status code (what the client got: 400 from the parser, 499 for a client that left).',
      labelNames: ['listener', 'code'],
      registers,
      collect() {
        this.reset();
        for (const [listener, t] of tallies) t.codes.forEach((n, code) => this.inc({ listener, code: String(code) }, n));
      },
    });
    const protocols = this.protocols;
    new Counter({
      name: 'warpipe_requests_by_protocol_total',
      help: 'Requests answered, by the protocol they came in (SERVER_PROTOCOL: HTTP/1.0, HTTP/1.1, HTTP/2).',
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        for (const [protocol, n] of protocols) this.inc({ protocol }, n);
      },
    });
    this.registry.registerMetric(durationHistogram(tallies));
    new Counter({
      name: 'warpipe_response_body_bytes_total',
      help: 'Response body bytes written to clients.',
      labelNames: ['listener'],
      registers,
      collect() {
        this.reset();
        for (const [listener, t] of tallies) this.inc({ listener }, t.bytes);
      },
    });

    connectionMetrics(listeners, budget, registers);

    new Gauge({
      name: 'warpipe_workers',
      help: 'Python worker processes now, by state (idle, busy, booting, warming, retiring, template).',
      labelNames: ['state'],
      registers,
      collect() {
        const counts: Record<string, number> = { idle: 0, busy: 0, booting: 0, warming: 0, retiring: 0, template: 0 };
        for (const w of pool.status().workers) {
          const state = w.state.startsWith('retiring') ? 'retiring' : w.state;
          counts[state] = (counts[state] ?? 0) + 1;
        }
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'warpipe_workers_resident_memory_bytes',
      help: 'Resident memory of all Python workers together.',
      registers,
      collect() {
        this.set(pool.status().workers.reduce((sum, w) => sum + w.rss * 1024 * 1024, 0));
      },
    });
    new Gauge({
      name: 'warpipe_queue_length',
      help: 'Requests waiting for a worker.',
      registers,
      collect() {
        this.set(pool.dispatcher.queued);
      },
    });
    counterFrom(
      'warpipe_queue_rejected_total',
      'Requests answered 503: the queue was full (--backlog) or they waited past --queue-timeout.',
      () => pool.counts.queueRefused,
      registers,
    );
    processManagerCounters(pool, registers);
    new Counter({
      name: 'warpipe_worker_recycles_total',
      help: 'Workers replaced drain-first, by cause (max_requests, max_lifetime, max_rss).',
      labelNames: ['cause'],
      registers,
      collect() {
        this.reset();
        for (const [cause, n] of Object.entries(pool.counts.recycled)) this.inc({ cause }, n);
      },
    });
  }

  record(e: AccessEntry): void {
    let t = this.tallies.get(e.listener);
    if (t === undefined) {
      t = { codes: [], buckets: new Float64Array(DURATION_BUCKETS.length + 1), seconds: 0, bytes: 0 };
      this.tallies.set(e.listener, t);
    }
    t.codes[e.status] = (t.codes[e.status] ?? 0) + 1;
    const seconds = (performance.now() - e.started) / 1000;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    t.buckets[i]!++;
    t.seconds += seconds;
    t.bytes += e.bytes;
    const protocol = e.environ?.SERVER_PROTOCOL;
    const key = typeof protocol === 'string' ? protocol : '-';
    this.protocols.set(key, (this.protocols.get(key) ?? 0) + 1);
  }
}

/** Client connections: open now (all, and HTTP/2), refused, reclaimed, calmed. */
function connectionMetrics(listeners: MetricsSources['listeners'], budget: ConnectionBudget, registers: Registry[]): void {
  new Gauge({
    name: 'warpipe_connections',
    help: 'Client connections open now, by listener.',
    labelNames: ['listener'],
    registers,
    collect() {
      for (const [name, l] of Object.entries(listeners())) this.set({ listener: name }, l.connections.size);
    },
  });
  new Gauge({
    name: 'warpipe_http2_connections',
    help: 'Client connections speaking HTTP/2 now (h2 and h2c), by listener; also counted in warpipe_connections.',
    labelNames: ['listener'],
    registers,
    collect() {
      for (const [name, l] of Object.entries(listeners())) {
        let n = 0;
        for (const c of l.connections) if (c instanceof Http2Connection) n++;
        if (n > 0 || name === 'http' || name === 'https') this.set({ listener: name }, n);
      }
    },
  });
  counterFrom(
    'warpipe_http2_calmed_total',
    'HTTP/2 connections sent GOAWAY ENHANCE_YOUR_CALM: a client past --http2-max-resets (rapid reset) or another HTTP/2 cap.',
    () => {
      let n = 0;
      for (const l of Object.values(listeners())) n += (l as { http2Calms?: number }).http2Calms ?? 0;
      return n;
    },
    registers,
  );
  counterFrom(
    'warpipe_connections_refused_total',
    'Connections refused over --max-connections or --max-connections-per-ip (answered 503).',
    () => budget.refused,
    registers,
  );
  counterFrom(
    'warpipe_connections_reclaimed_total',
    'Idle kept-alive connections closed to make room for a new one at --max-connections (nginx reuses them the same way).',
    () => budget.reclaimed,
    registers,
  );
}

/** The exposition's content type (prom-client's, for every registry). */
const CONTENT_TYPE = new Registry().contentType;

/** GET /metrics on a listener of its own, answered with `render()`; resolves with where. */
export async function serveMetrics(
  address: Address,
  socketMode: number,
  log: Logger,
  render: () => Promise<string>,
  owner: SocketOwner | null = null,
): Promise<string> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' && !req.url?.startsWith('/metrics?')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed\n');
      return;
    }
    render().then(
      (text) => res.writeHead(200, { 'Content-Type': CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => {
        log.error(`--metrics: ${err.message}`);
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal Server Error\n');
      },
    );
  });
  server.keepAliveTimeout = 65_000; // Prometheus keeps its scrape connection
  const where = await bind(server, address, socketMode, (err) => log.error(`--metrics listener error: ${err.message}`), false, owner);
  return where.startsWith('unix:') ? `${where} (GET /metrics)` : `http://${where}/metrics`;
}

/**
 * warpipe_request_duration_seconds from the tallies, as prom-client's Registry
 * reads any metric: name, help, type and get() with the samples (its own
 * Histogram cannot be given counts, only fed one observation at a time).
 */
function durationHistogram(tallies: Map<string, Tally>): Metric {
  const name = 'warpipe_request_duration_seconds';
  const help = 'From the request head read to the response written, by listener.';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [listener, t] of tallies) {
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          cumulative += t.buckets[i]!;
          values.push({ labels: { le, listener }, value: cumulative, metricName: `${name}_bucket` });
        });
        cumulative += t.buckets[DURATION_BUCKETS.length]!;
        values.push({ labels: { le: '+Inf', listener }, value: cumulative, metricName: `${name}_bucket` });
        values.push({ labels: { listener }, value: t.seconds, metricName: `${name}_sum` });
        values.push({ labels: { listener }, value: cumulative, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  } as unknown as Metric;
}

/** A counter whose value is read from `read` at scrape time. */
function counterFrom(name: string, help: string, read: () => number, registers: Registry[]): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** What the process manager did since start: spawns, crashes, timeouts, failed warm-ups, reloads and failed reloads. */
function processManagerCounters(pool: Arbiter, registers: Registry[]): void {
  counterFrom(
    'warpipe_worker_spawns_total',
    'Worker processes started (first boot, respawns, replacements, reloads).',
    () => pool.counts.spawned,
    registers,
  );
  counterFrom('warpipe_worker_crashes_total', 'Workers that exited without being asked to.', () => pool.counts.crashed, registers);
  counterFrom(
    'warpipe_worker_timeouts_total',
    'Workers killed for a request running past --timeout (its client got 504).',
    () => pool.counts.timedOut,
    registers,
  );
  counterFrom(
    'warpipe_reloads_total',
    'Graceful reloads started (SIGHUP, warpipe reload, --touch-reload, --reload).',
    () => pool.counts.reloads,
    registers,
  );
  counterFrom(
    'warpipe_reloads_failed_total',
    'Reloads rolled back: the new workers did not start or failed their --warmup; the old ones kept serving.',
    () => pool.counts.reloadsFailed,
    registers,
  );
  counterFrom(
    'warpipe_worker_warmup_failures_total',
    'New workers whose --warmup request answered 5xx, failed or got no answer within --boot-timeout (each a failed boot).',
    () => pool.counts.warmupsFailed,
    registers,
  );
}
