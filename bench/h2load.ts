// HTTP/2 load for the bench: nghttp2's h2load (Debian nghttp2-client) against
// 127.0.0.1, as wrk.ts runs wrk: bounded by -D, many streams per connection
// (-m), its summary parsed into wrk's result shape, its per-request log read
// for the latency percentiles. With --h1 the same client speaks HTTP/1.1 (no
// pipelining: -m 1), so the HTTP/2 and HTTP/1.1 figures of a run come from one
// client. A run in which any request failed, errored, timed out or got a status
// >= 400, or that negotiated another protocol than asked, throws: its numbers
// are not kept. Also here: one GET over each protocol, for readiness and for
// the fresh-connection probe.

import { readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { httpGet, Proc, sleep, tempDir } from './procs.js';
import { freshConnectionProbe, type WrkResult } from './wrk.js';

/** What the client speaks: HTTP/1.1 or HTTP/2 (h2c with prior knowledge), in the clear or over TLS (h2 by ALPN). */
export type Protocol = 'h1' | 'h2c' | 'h1-tls' | 'h2-tls';

export const isTls = (p: Protocol): boolean => p.endsWith('-tls');
export const isH2 = (p: Protocol): boolean => p.startsWith('h2');

export interface H2loadOptions {
  port: number;
  path: string;
  protocol: Protocol;
  seconds: number;
  /** -c: connections */
  connections: number;
  /** -m: concurrent streams per connection (HTTP/2); the HTTP/1.1 runs always use 1 (no pipelining) */
  streams: number;
  /** -t: client threads */
  threads: number;
}

/** What h2load prints on the "Application protocol:" line for each protocol. */
const NEGOTIATED: Record<Protocol, string> = { h1: 'http/1.1', h2c: 'h2c', 'h1-tls': 'http/1.1', 'h2-tls': 'h2' };

export interface H2loadSummary {
  total: number;
  started: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  /** h2load's own req/s and wall seconds */
  rps: number;
  seconds: number;
  /** the "Application protocol:" line, e.g. h2c, h2, http/1.1; null if h2load printed none (no connection) */
  protocol: string | null;
}

/** h2load's summary lines, parsed; throws when they are not there. */
export function parseH2load(out: string): H2loadSummary {
  const fin = /finished in ([\d.]+)s, ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const st = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!fin || !req || !st) {
    // all of it (h2load's summary is some 30 lines): which line is missing or torn is the clue
    const missing = [fin ? '' : 'finished in', req ? '' : 'requests:', st ? '' : 'status codes:'].filter(Boolean).join(', ');
    throw new Error(`h2load printed no summary (no ${missing} line): ${out.trim().slice(-3000).split('\n').join(' | ')}`);
  }
  const n = (m: RegExpExecArray, i: number): number => Number(m[i]);
  return {
    seconds: n(fin, 1),
    rps: n(fin, 2),
    total: n(req, 1),
    started: n(req, 2),
    done: n(req, 3),
    succeeded: n(req, 4),
    failed: n(req, 5),
    errored: n(req, 6),
    timeout: n(req, 7),
    status: { '2xx': n(st, 1), '3xx': n(st, 2), '4xx': n(st, 3), '5xx': n(st, 4) },
    protocol: /Application protocol: (\S+)/.exec(out)?.[1] ?? null,
  };
}

/** Why a run's numbers cannot be kept, or null: every request answered below 400, none failed, the protocol asked for. */
export function h2loadProblem(s: H2loadSummary, protocol: Protocol): string | null {
  const want = NEGOTIATED[protocol];
  if (s.protocol !== want) return `h2load negotiated ${s.protocol ?? 'no protocol (no connection?)'}, not ${want}`;
  const bad = s.status['4xx'] + s.status['5xx'];
  if (s.failed > 0 || s.errored > 0 || s.timeout > 0 || bad > 0) {
    return (
      `${s.failed} of ${s.done} requests failed (${s.errored} errored, ${s.timeout} timed out), ` +
      `${s.status['4xx']} answered 4xx and ${s.status['5xx']} 5xx`
    );
  }
  if (s.succeeded === 0) return 'no request succeeded';
  return null;
}

/** Percentiles (0-100) of `sorted`, nearest rank. */
const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

/**
 * Latencies (ms) from h2load's --log-file (start µs, status, µs to the end of the response, tab-separated; a
 * line per request done), and how many requests it holds.
 */
function latencies(file: string): { p50: number; p99: number; max: number; logged: number } {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return { p50: 0, p99: 0, max: 0, logged: 0 };
  }
  const lines = text.split('\n');
  const us = new Float64Array(lines.length);
  let k = 0;
  for (const line of lines) {
    const third = line.split('\t')[2];
    if (third !== undefined) us[k++] = Number(third);
  }
  const sorted = us.subarray(0, k).sort();
  return { p50: percentile(sorted, 50) / 1000, p99: percentile(sorted, 99) / 1000, max: (sorted[k - 1] ?? 0) / 1000, logged: k };
}

let logDir: string | null = null;

/** Run h2load once for `seconds`; killed if it overruns by 15 s. Throws when the run cannot be kept (h2loadProblem). */
export async function runH2load(o: H2loadOptions): Promise<WrkResult> {
  logDir ??= tempDir('warpipe-bench-h2load-');
  const log = join(logDir, 'requests.tsv');
  rmSync(log, { force: true }); // h2load opens its log with O_APPEND: the previous run's requests would stay in it
  const h1 = !isH2(o.protocol);
  const scheme = isTls(o.protocol) ? 'https' : 'http';
  const args = [
    ...(h1 ? ['--h1'] : []),
    '-t',
    String(o.threads),
    '-c',
    String(Math.max(o.connections, o.threads)),
    '-m',
    String(h1 ? 1 : o.streams),
    '-D',
    String(o.seconds),
    '--log-file',
    log,
    `${scheme}://127.0.0.1:${o.port}${o.path}`,
  ];
  const client = new Proc({ cmd: 'h2load', args }, 64 * 1024);
  const bound = setTimeout(() => client.child.kill('SIGKILL'), (o.seconds + 15) * 1000);
  await client.finished;
  clearTimeout(bound);
  const s = parseH2load(client.output);
  const problem = h2loadProblem(s, o.protocol);
  if (problem) throw new Error(`h2load ${args.slice(0, -3).join(' ')} (${o.protocol}): ${problem}`);
  const lat = latencies(log);
  // h2load logs each request done in the measured time: other counts mean the percentiles are not this run's
  if (lat.logged !== s.done) throw new Error(`h2load's request log holds ${lat.logged} requests, its summary ${s.done} done`);
  return {
    requests: s.succeeded,
    seconds: s.rps > 0 ? s.succeeded / s.rps : s.seconds,
    rps: s.rps,
    p50ms: lat.p50,
    p99ms: lat.p99,
    maxms: lat.max,
    errors: { connect: 0, read: s.errored, write: 0, timeout: s.timeout, status: s.status['4xx'] + s.status['5xx'] },
  };
}

/** One GET over `protocol` on a new connection (TLS: any certificate); status and body. */
export function getOver(protocol: Protocol, port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  if (protocol === 'h1') return httpGet(port, path, timeoutMs);
  if (protocol === 'h1-tls') {
    return new Promise((resolveGet, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
  return new Promise((resolveGet, reject) => {
    const url = `${isTls(protocol) ? 'https' : 'http'}://127.0.0.1:${port}`;
    const session = http2.connect(url, isTls(protocol) ? { rejectUnauthorized: false } : {});
    const fail = (err: Error): void => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    session.on('error', fail);
    const req = session.request({ ':path': path });
    let status = 0;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (headers) => (status = Number(headers[':status'] ?? 0)));
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolveGet({ status, body });
    });
    req.on('error', fail);
  });
}

/**
 * After `delayMs`, one GET over `protocol` on a new connection, timed to the end of its answer: ms, or null if
 * none came within `timeoutMs`. Plain HTTP/1.1 is wrk.ts's probe (first bytes of the answer).
 */
export async function freshProbeOver(
  protocol: Protocol,
  port: number,
  path: string,
  delayMs: number,
  timeoutMs: number,
): Promise<number | null> {
  if (protocol === 'h1') return freshConnectionProbe(port, path, delayMs, timeoutMs);
  await sleep(delayMs);
  const t0 = process.hrtime.bigint();
  try {
    await getOver(protocol, port, path, timeoutMs);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  } catch {
    return null;
  }
}
