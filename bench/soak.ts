// The soak: warpipe under mixed traffic for a long time, with its workers
// recycled (--max-requests) and the whole pool reloaded (SIGHUP) every minute,
// while every answer is checked. It reports requests served, errors by class,
// p99 latency over time, and the gateway's RSS and open file descriptors over
// time (a leak shows as a slope), writes the samples as JSON and a chart as
// SVG, and exits 1 if any request was lost, a resource grew without bound, or
// the gateway died.
//
//   bench/soak [--duration 10m] [--reload-every 60] [--sample 5] [--no-attackers]
//              [--out FILE.json] [--chart FILE.svg] [-- WARPIPE-OPTIONS…]
//   bench/soak --replot FILE.json --chart FILE.svg      (the chart again, from a run's JSON)
//
// Traffic (each a loop of its own, all bounded by --duration; every request has
// a 30 s deadline): small keep-alive GETs, 2 MB downloads, 256 KiB uploads
// (fixed length and chunked), slow clients that send their head over ~1.5 s,
// slow readers, and connection churn (a new connection per request).
//
// Beside it, unless --no-attackers, hostile clients (bench/attackers.ts) attack the
// same warpipe for the whole run, over HTTP and over SCGI, uwsgi and FastCGI unix
// sockets the soak adds to it: each is bounded in connections and rate, and the
// report says per attacker how many attempts it made and how they ended.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AttackerReport, attackers as makeAttackers, describeReport } from './attackers.js';
import { Proc, childrenOf, freePort, httpGet, memoryMiB, sleep, stop, stopAllAndExit } from './procs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = `${ROOT}dist/src/cli.js`;
const APPS = `${ROOT}test/fixtures/apps/`;
const REQUEST_DEADLINE_MS = 30_000;

interface Options {
  duration: number;
  reloadEvery: number;
  sample: number;
  attackers: boolean;
  out: string;
  chart: string;
  replot: string;
  extra: string[];
}

function usage(why: string): never {
  process.stderr.write(
    `soak: ${why}\nusage: bench/soak [--duration 10m|600s] [--reload-every SECONDS] [--sample SECONDS] [--attackers|--no-attackers] ` +
      '[--out FILE.json] [--chart FILE.svg] [-- WARPIPE-OPTIONS...]\n',
  );
  process.exit(2);
}

function seconds(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text);
  if (!m) usage(`${flag} must be a duration like 90s, 10m or 1h, got "${text}"`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2] ?? 's']!;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { duration: 600, reloadEvery: 60, sample: 5, attackers: true, out: '', chart: '', replot: '', extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--') {
      o.extra = argv.slice(i + 1); // more warpipe options: --access-log, --metrics, --spool-request-body …
      break;
    }
    if (flag === '--attackers' || flag === '--no-attackers') {
      o.attackers = flag === '--attackers';
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) usage(`${flag} needs a value`);
    i++;
    if (flag === '--duration') o.duration = seconds(value, flag);
    else if (flag === '--reload-every') o.reloadEvery = seconds(value, flag);
    else if (flag === '--sample') o.sample = seconds(value, flag);
    else if (flag === '--out') o.out = value;
    else if (flag === '--chart') o.chart = value;
    else if (flag === '--replot') o.replot = value;
    else usage(`unknown option ${flag}`);
  }
  if (o.replot && !o.chart) usage('--replot FILE.json needs --chart FILE.svg');
  if (o.duration < 10) usage('--duration must be at least 10s');
  if (o.sample <= 0 || o.reloadEvery <= 0) usage('--sample and --reload-every must be positive');
  return o;
}

// --- what is counted ---

class Tally {
  served = 0;
  readonly errors = new Map<string, number>();
  /** Latencies (ms) of the current sample interval: small requests, and all. */
  small: number[] = [];
  all: number[] = [];

  ok(ms: number, small: boolean): void {
    this.served++;
    this.all.push(ms);
    if (small) this.small.push(ms);
  }

  error(kind: string, what: string): void {
    const key = `${kind}: ${what}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  get lost(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }
}

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

interface Sample {
  t: number;
  served: number;
  lost: number;
  p99SmallMs: number;
  p99AllMs: number;
  gatewayRssMiB: number;
  workersRssMiB: number;
  workers: number;
  fds: number;
}

// --- the traffic ---

interface Answer {
  status: number;
  body: Buffer;
}

/** One request through an agent (keep-alive or not), with an optional body (chunked when `chunked`). */
function send(
  port: number,
  agent: http.Agent | false,
  method: string,
  path: string,
  body?: Buffer,
  chunked = false,
  slowRead = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (body && !chunked) headers['Content-Length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers, timeout: REQUEST_DEADLINE_MS }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        parts.push(d);
        if (slowRead) {
          res.pause();
          setTimeout(() => res.resume(), 20);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body && chunked) {
      for (let off = 0; off < body.length; off += 65536) req.write(body.subarray(off, off + 65536));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** A client that sends its request head a few bytes at a time over ~1.5 s, then reads the answer. */
function slowClient(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const head = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: soak\r\nUser-Agent: slow\r\nConnection: close\r\n\r\n`);
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const deadline = setTimeout(() => sock.destroy(new Error('timeout')), REQUEST_DEADLINE_MS);
    sock.on('connect', () => {
      let off = 0;
      const step = Math.ceil(head.length / 15);
      const drip = (): void => {
        if (sock.destroyed) return;
        sock.write(head.subarray(off, off + step));
        off += step;
        if (off < head.length) timer = setTimeout(drip, 100);
      };
      drip();
    });
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', (err) => {
      clearTimeout(deadline);
      if (timer) clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(deadline);
      const all = Buffer.concat(got);
      const end = all.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(all.toString('latin1', 0, 20))?.[1] ?? 0);
      resolve({ status, body: end < 0 ? Buffer.alloc(0) : all.subarray(end + 4) });
    });
  });
}

function classify(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.message === 'timeout') return 'timeout';
  if (e.code === 'ECONNRESET' || e.message === 'socket hang up' || e.message === 'response aborted') return 'reset';
  if (e.code === 'ECONNREFUSED') return 'refused';
  return e.code ?? e.message;
}

// --- the chart ---

function chart(samples: Sample[], title: string): string {
  const W = 760;
  const panelH = 150;
  const left = 60;
  const right = 20;
  const panels: { label: string; unit: string; series: { name: string; color: string; values: number[] }[] }[] = [
    {
      label: 'p99 latency',
      unit: 'ms',
      series: [
        { name: 'small requests', color: '#1f77b4', values: samples.map((s) => s.p99SmallMs) },
        { name: 'all requests', color: '#ff7f0e', values: samples.map((s) => s.p99AllMs) },
      ],
    },
    {
      label: 'memory (RSS)',
      unit: 'MiB',
      series: [
        { name: 'gateway', color: '#2ca02c', values: samples.map((s) => s.gatewayRssMiB) },
        { name: 'workers, together', color: '#9467bd', values: samples.map((s) => s.workersRssMiB) },
      ],
    },
    { label: 'gateway open fds', unit: '', series: [{ name: 'file descriptors', color: '#d62728', values: samples.map((s) => s.fds) }] },
  ];
  const tMax = Math.max(1, samples.at(-1)?.t ?? 1);
  const x = (t: number): number => left + (t / tMax) * (W - left - right);
  const out: string[] = [];
  const H = 40 + panels.length * (panelH + 40);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${left}" y="20" font-size="13" font-weight="bold">${title}</text>`);
  panels.forEach((panel, i) => {
    const top = 40 + i * (panelH + 40);
    const max = Math.max(1, ...panel.series.flatMap((s) => s.values.filter(Number.isFinite))) * 1.1;
    const y = (v: number): number => top + panelH - (v / max) * panelH;
    out.push(`<text x="${left}" y="${top - 6}" font-weight="bold">${panel.label}${panel.unit ? ` (${panel.unit})` : ''}</text>`);
    out.push(`<rect x="${left}" y="${top}" width="${W - left - right}" height="${panelH}" fill="none" stroke="#999"/>`);
    for (const frac of [0, 0.5, 1]) {
      const v = max * frac;
      out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 100 ? v.toFixed(0) : v.toFixed(1)}</text>`);
    }
    for (let m = 0; m <= tMax / 60; m++) {
      out.push(`<line x1="${x(m * 60)}" y1="${top}" x2="${x(m * 60)}" y2="${top + panelH}" stroke="#eee"/>`);
      if (i === panels.length - 1) out.push(`<text x="${x(m * 60)}" y="${top + panelH + 14}" text-anchor="middle">${m} min</text>`);
    }
    panel.series.forEach((s, j) => {
      const points = s.values
        .flatMap((v, k) => (Number.isFinite(v) ? [`${x(samples[k]!.t).toFixed(1)},${y(v).toFixed(1)}`] : []))
        .join(' ');
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${points}"/>`);
      out.push(`<text x="${W - right - 4}" y="${top + 14 + j * 14}" text-anchor="end" fill="${s.color}">${s.name}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n');
}

// --- leaks ---

/** Least-squares slope of `values` over time `t` (seconds), per minute. */
function slopePerMinute(t: number[], values: number[]): number {
  const n = t.length;
  if (n < 3) return 0;
  const mt = t.reduce((a, b) => a + b, 0) / n;
  const mv = values.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (t[i]! - mt) * (values[i]! - mv);
    den += (t[i]! - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

interface Growth {
  what: string;
  slope: number;
  growth: number;
  limitSlope: number;
  limitGrowth: number;
  unbounded: boolean;
}

/**
 * After a warm-up fifth, a resource grows without bound when it both trends up
 * and its floor has risen: the lowest value of the last third against the
 * lowest of the first (in-flight requests and GC make the peaks noisy; a leak
 * lifts the floor).
 */
function growth(samples: Sample[], what: string, pick: (s: Sample) => number, limitSlope: number, limitGrowth: number): Growth {
  const steady = samples.slice(Math.floor(samples.length / 5));
  const t = steady.map((s) => s.t);
  const v = steady.map(pick);
  const slope = slopePerMinute(t, v);
  const third = Math.max(1, Math.floor(v.length / 3));
  const g = v.length ? Math.min(...v.slice(-third)) - Math.min(...v.slice(0, third)) : 0;
  return { what, slope, growth: g, limitSlope, limitGrowth, unbounded: slope > limitSlope && g > limitGrowth };
}

// --- the run ---

function title(duration: number, served: number, lost: number, reloadEvery: number, attacked = false): string {
  return (
    `warpipe soak: ${Math.round(duration / 60)} min, ${served} requests, ${lost} lost, ` +
    `reload every ${reloadEvery}s${attacked ? ', attackers beside' : ''}`
  );
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.replot) {
    // the chart again from a run's --out JSON
    const run = JSON.parse(readFileSync(o.replot, 'utf8')) as {
      duration: number;
      served: number;
      lost: number;
      reloadEvery: number;
      samples: Sample[];
      attackers?: unknown[];
    };
    const samples = run.samples.map((s) => ({ ...s, workersRssMiB: s.workersRssMiB ?? NaN, gatewayRssMiB: s.gatewayRssMiB ?? NaN }));
    writeFileSync(o.chart, chart(samples, title(run.duration, run.served, run.lost, run.reloadEvery, (run.attackers?.length ?? 0) > 0)));
    return;
  }
  const port = await freePort();
  // the attackers' gateway listeners: unix sockets in a directory of our own
  const dir = o.attackers ? mkdtempSync(join(tmpdir(), 'warpipe-soak-')) : '';
  const targets = { port, scgi: join(dir, 'scgi.sock'), uwsgi: join(dir, 'uwsgi.sock'), fastcgi: join(dir, 'fcgi.sock') };
  const listeners = o.attackers
    ? ['--scgi', `unix:${targets.scgi}`, '--uwsgi', `unix:${targets.uwsgi}`, '--fastcgi', `unix:${targets.fastcgi}`]
    : [];
  const server = new Proc({
    cmd: process.execPath,
    args: [
      CLI,
      'pep3333:application',
      '--http',
      `127.0.0.1:${port}`,
      ...listeners,
      '--workers',
      '2',
      '--threads',
      '2',
      '--max-requests',
      '2000',
      '--max-requests-jitter',
      '400',
      '--timeout',
      '30',
      ...o.extra,
    ],
    cwd: APPS,
  });
  process.once('SIGINT', () => void stopAllAndExit(130));
  for (let i = 0; ; i++) {
    if (server.exit) throw new Error(`warpipe exited at startup: ${server.lastLines()}`);
    if (i > 300) throw new Error(`warpipe did not answer: ${server.lastLines()}`);
    try {
      if ((await httpGet(port, '/sized?1', 1000)).status === 200 && (!o.attackers || existsSync(targets.fastcgi))) break;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  console.log(
    `soak: warpipe ${server.pid} on 127.0.0.1:${port} for ${o.duration}s, reload every ${o.reloadEvery}s` +
      `${o.attackers ? `, attackers beside (SCGI, uwsgi, FastCGI in ${dir})` : ''}`,
  );

  const tally = new Tally();
  const started = Date.now();
  const until = started + o.duration * 1000;
  const upload = randomBytes(256 * 1024);
  const uploadHash = createHash('sha256').update(upload).digest('hex');
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });

  const check = (what: string, a: Answer, length: number, hash?: string): boolean => {
    if (a.status !== 200) {
      tally.error(what, `status ${a.status}`);
      return false;
    }
    if (a.body.length !== length) {
      tally.error(what, 'wrong body length');
      return false;
    }
    if (hash && createHash('sha256').update(a.body).digest('hex') !== hash) {
      tally.error(what, 'body differs');
      return false;
    }
    return true;
  };
  const loop = async (what: string, small: boolean, one: () => Promise<boolean>): Promise<void> => {
    while (Date.now() < until) {
      const t0 = performance.now();
      try {
        if (await one()) tally.ok(performance.now() - t0, small);
      } catch (err) {
        tally.error(what, classify(err));
        await sleep(50);
      }
    }
  };
  let n = 0;
  const loops = [
    ...Array.from({ length: 6 }, () =>
      loop('small', true, async () => {
        const size = 100 + (n++ % 900);
        return check('small', await send(port, keepAlive, 'GET', `/sized?${size}`), size);
      }),
    ),
    loop('download', false, async () => check('download', await send(port, keepAlive, 'GET', '/sized?2000000'), 2_000_000)),
    loop('upload', false, async () => check('upload', await send(port, keepAlive, 'POST', '/echo', upload), upload.length, uploadHash)),
    loop('upload, chunked', false, async () =>
      check('upload, chunked', await send(port, keepAlive, 'POST', '/echo', upload, true), upload.length, uploadHash),
    ),
    ...Array.from({ length: 2 }, () =>
      loop('slow client', false, async () => check('slow client', await slowClient(port, '/sized?5000'), 5000)),
    ),
    loop('slow reader', false, async () =>
      check('slow reader', await send(port, false, 'GET', '/sized?3000000', undefined, false, true), 3_000_000),
    ),
    ...Array.from({ length: 2 }, () => loop('churn', true, async () => check('churn', await send(port, false, 'GET', '/sized?10'), 10))),
  ];

  const hostile = o.attackers ? makeAttackers(targets) : [];
  const attacks = hostile.map((a) => a.run(until));

  const samples: Sample[] = [];
  let reloads = 0;
  let gatewayDied = false;
  const sampler = (async () => {
    let nextReload = started + o.reloadEvery * 1000;
    while (Date.now() < until) {
      await sleep(Math.min(o.sample * 1000, Math.max(0, until - Date.now())));
      if (Date.now() >= nextReload && Date.now() < until) {
        process.kill(server.pid, 'SIGHUP');
        reloads++;
        nextReload += o.reloadEvery * 1000;
      }
      const workers = childrenOf(server.pid);
      const mem = memoryMiB(server.pid);
      let fds = 0;
      try {
        fds = readdirSync(`/proc/${server.pid}/fd`).length;
      } catch {
        fds = NaN;
      }
      const s: Sample = {
        t: Math.round((Date.now() - started) / 100) / 10,
        served: tally.served,
        lost: tally.lost,
        p99SmallMs: Math.round(p99(tally.small) * 10) / 10,
        p99AllMs: Math.round(p99(tally.all) * 10) / 10,
        gatewayRssMiB: Math.round((mem?.rss ?? NaN) * 10) / 10,
        // a worker just exited has no VmRSS
        workersRssMiB: Math.round(workers.reduce((a, pid) => a + (memoryMiB(pid)?.rss || 0), 0) * 10) / 10,
        workers: workers.length,
        fds,
      };
      tally.small = [];
      tally.all = [];
      samples.push(s);
      console.log(
        `soak: ${s.t.toFixed(0).padStart(5)}s  served ${s.served}  lost ${s.lost}  p99 small ${s.p99SmallMs} ms  all ${s.p99AllMs} ms  ` +
          `gateway ${s.gatewayRssMiB} MiB  ${s.fds} fds  workers ${s.workers} (${s.workersRssMiB} MiB)`,
      );
      if (server.exit) {
        gatewayDied = true;
        tally.error('server', `warpipe exited (${JSON.stringify(server.exit)})`);
        break;
      }
    }
  })();
  await Promise.all([...loops, sampler]);
  for (const a of hostile) a.stop(); // at `until` they stop by themselves; sooner if the gateway died
  await Promise.all(attacks);
  keepAlive.destroy();
  gatewayDied ||= server.exit !== null;

  // the server must still be whole and stop cleanly
  await sleep(500);
  const fdsEnd = samples.at(-1)?.fds ?? NaN;
  await stop([server], 15_000);
  const exit = server.exit as Proc['exit']; // set by stop(); TypeScript keeps the narrowing from the startup loop
  // every client has gone by now: what the gateway still drains was left behind (a leak)
  const drainingAtStop = Number(/SIGTERM: draining (\d+) connection/.exec(server.output)?.[1] ?? NaN);
  const unclean = exit?.code === 0 ? null : `warpipe did not stop cleanly: exit ${JSON.stringify(exit)}: ${server.lastLines()}`;
  if (dir) rmSync(dir, { recursive: true, force: true });
  const attackerReports: AttackerReport[] = hostile.map((a) => a.report());

  const growths = [
    growth(samples, 'gateway RSS (MiB)', (s) => s.gatewayRssMiB, 2, 16),
    growth(samples, 'gateway open fds', (s) => s.fds, 1, 10),
  ];
  const secondsRun = (Date.now() - started) / 1000;
  const summary = {
    duration: o.duration,
    reloadEvery: o.reloadEvery,
    reloads,
    served: tally.served,
    perSecond: Math.round(tally.served / o.duration),
    lost: tally.lost,
    errors: Object.fromEntries(tally.errors),
    growths,
    fdsEnd,
    secondsRun,
    gatewayDied,
    drainingAtStop,
    stopExit: exit,
    attackers: attackerReports,
    samples,
  };
  console.log(`\nsoak: ${tally.served} requests in ${o.duration}s (${summary.perSecond}/s), ${reloads} reloads, ${tally.lost} lost`);
  for (const [k, v] of tally.errors) console.log(`  ${v} x ${k}`);
  for (const g of growths) {
    console.log(
      `  ${g.what}: ${g.slope.toFixed(2)}/min, grew ${g.growth.toFixed(1)} (limits ${g.limitSlope}/min and ${g.limitGrowth}): ` +
        `${g.unbounded ? 'GROWS WITHOUT BOUND' : 'bounded'}`,
    );
  }
  const rss = samples.map((s) => s.gatewayRssMiB).filter(Number.isFinite);
  const fds = samples.map((s) => s.fds).filter(Number.isFinite);
  if (rss.length)
    console.log(`  gateway RSS ${Math.min(...rss)}-${Math.max(...rss)} MiB, open fds ${Math.min(...fds)}-${Math.max(...fds)}`);
  if (attackerReports.length) {
    console.log('attackers (attempts, and how they ended):');
    for (const r of attackerReports) console.log(describeReport(r));
  }
  console.log(`  at SIGTERM, with every client gone, the gateway was draining ${drainingAtStop} connection(s)`);
  if (unclean) console.log(`soak: ${unclean}`);
  if (gatewayDied) console.log('soak: THE GATEWAY DIED during the run');
  if (o.out) writeFileSync(o.out, JSON.stringify(summary, null, 1));
  if (o.chart) writeFileSync(o.chart, chart(samples, title(o.duration, tally.served, tally.lost, o.reloadEvery, hostile.length > 0)));
  process.exit(tally.lost > 0 || gatewayDied || unclean !== null || growths.some((g) => g.unbounded) ? 1 : 0);
}

main().catch((err: Error) => {
  console.error(`soak: ${err.message}`);
  void stopAllAndExit(1);
});
