// Presentation: the machine description, the per-scenario Markdown tables
// (printed to stdout and written into docs/benchmarks.md with the how-to and
// method text), a hand-written SVG chart, the headline ratios and the lead's
// targets checked against the same run.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import type { HolderStats } from './holders.js';
import type { Scenario } from './scenarios.js';
import { pythonVersion, uwsgiCommon, type Server } from './servers.js';
import type { WrkResult } from './wrk.js';

export interface Measured {
  wrk: WrkResult;
  /** CPU seconds of the server's process tree between the samples */
  serverCpu: number;
  /** CPU seconds of wrk itself */
  wrkCpu: number;
  /** busy CPU seconds of the machine not accounted for by the server, wrk or the bench */
  otherCpu: number;
  /** fresh-connection probe: ms to the first answer bytes, null if none within the wait */
  probeMs: number | null;
  /** the process facing the clients: largest VmRSS sampled during the run, and VmHWM after it (MiB) */
  front: { rssMax: number; hwm: number } | null;
  /** CPU seconds of the front process alone (warpipe: the gateway) during the run; null where there is none */
  frontCpu?: number | null;
  /** the largest worker: VmRSS right after the run and VmHWM (MiB) */
  workers: { count: number; rss: number; hwm: number } | null;
  /** the held slowloris / idle connections */
  holders?: HolderStats & { heldAtStart: number };
  /** measured seconds asked of wrk, and its connections */
  duration: number;
  connections: number;
}

export interface Row {
  server: string;
  measured?: Measured;
  failed?: string;
}

export interface ScenarioResult {
  scenario: Scenario;
  rows: Row[];
  /** with --rounds N, which round (1..N) */
  round?: number;
}

export interface Settings {
  /** --duration, when given (else each scenario's own) */
  duration: number | undefined;
  warmup: number;
  connections: number;
  threads: number;
  command: string;
  /** wall time of the whole invocation */
  minutes: number;
  /** re-runs of disturbed runs, and the minutes they took */
  reruns: number;
  rerunMinutes: number;
}

/** The worker-overhead baseline: RSS of a bare interpreter that imported the hello app. */
export interface Memory {
  python: string;
  bareRss: number | null;
}

const BASE = 'warpipe';
/** A run during which the rest of the machine used more than this many cores is disturbed: re-run, and flagged if kept. */
export const NOISY_CORES = 0.25;
export const otherCores = (m: Measured): number => m.otherCpu / m.wrk.seconds;
const MiB = 1024 * 1024;
/** how the headline and chart name the servers */
const LABEL: Record<string, string> = {
  warpipe: 'warpipe',
  'gunicorn-sync': 'gunicorn sync',
  'gunicorn-gthread': 'gunicorn gthread',
  'uwsgi-http11': 'uWSGI --http11-socket',
  'uwsgi-http': 'uWSGI --http router',
  'nginx-uwsgi': 'nginx + uWSGI',
  waitress: 'waitress',
};
const label = (server: string): string => LABEL[server] ?? server;

export const cpuPerRequestUs = (m: Measured): number => (m.wrk.requests > 0 ? (m.serverCpu * 1e6) / m.wrk.requests : NaN);
const errorCount = (m: Measured): number => Object.values(m.wrk.errors).reduce((a, n) => a + n, 0);

/** req/s, or MiB/s for a scenario with `bytesPerRequest`. */
function throughput(s: Scenario, m: Measured): number {
  return s.bytesPerRequest ? (m.wrk.rps * s.bytesPerRequest) / MiB : m.wrk.rps;
}
const unit = (s: Scenario): string => (s.bytesPerRequest ? 'MiB/s' : s.websocket ? 'round trips/s' : 'req/s');

export function find(results: readonly ScenarioResult[], scenario: string, server: string): Measured | undefined {
  return results.find((r) => r.scenario.name === scenario)?.rows.find((r) => r.server === server)?.measured;
}

/** A server's req/s in a baseline'd scenario over its req/s in the baseline scenario of the same invocation. */
function ofPlain(results: readonly ScenarioResult[], s: Scenario, server: string): number | null {
  const m = find(results, s.name, server);
  const plain = s.baseline ? find(results, s.baseline, server) : undefined;
  return m && plain && plain.wrk.rps > 0 ? m.wrk.rps / plain.wrk.rps : null;
}

/** First line of a command's output; null if it cannot run (or, with `mustSucceed`, fails). */
function firstLine(cmd: string, args: string[], mustSucceed = false): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.error || (mustSucceed && r.status !== 0)) return null;
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? null;
}

/** What the doc says about the machine and the software versions. */
export function machine(servers: readonly Server[]): string[] {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const lines = [
    `- date: ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC`,
    `- machine: ${availableParallelism()} CPUs (nproc), ${model}, ${(memKb / 1024 / 1024).toFixed(1)} GiB memory, Linux ${release()}`,
    `- Node ${process.version}; wrk: ${firstLine('wrk', ['-v'])?.replace(/ Copyright.*/, '') ?? 'not installed'}`,
  ];
  for (const s of servers.filter((x) => !x.missing())) {
    const py = s.python();
    const flask = py ? firstLine(py, ['-c', 'import importlib.metadata as m; print(m.version("flask"))'], true) : null;
    const line = `- ${s.version()}; Python: ${pythonVersion(py)} (${py})${flask ? `, Flask ${flask}` : ''}`;
    if (!lines.includes(line)) lines.push(line);
  }
  return lines;
}

function errorsCell(e: WrkResult['errors']): string {
  const parts = Object.entries(e).filter(([, n]) => n > 0);
  const total = parts.reduce((a, [, n]) => a + n, 0);
  return total === 0 ? '0' : `${total} (${parts.map(([k, n]) => `${k} ${n}`).join(', ')})`;
}

export const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');
export const times = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '—');
export const whole = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

/** The load a scenario's runs got, from a measured row (what was actually run). */
export function loadLine(result: ScenarioResult, settings: Settings): string {
  const m = result.rows.find((r) => r.measured)?.measured;
  if (!m) return '';
  const s = result.scenario;
  const h2load = s.http?.client === 'h2load' ? s.http : null;
  const tls = h2load?.protocol.endsWith('-tls') ? ' (TLS)' : '';
  const client = s.websocket
    ? 'bench/ws-client.ts'
    : h2load
      ? `h2load ${h2load.protocol.startsWith('h2') ? `-m ${h2load.streams}` : '--h1 -m 1'}${tls}`
      : 'wrk';
  const parts = [
    `${client} -c ${m.connections}`,
    `${m.duration} s after ${settings.warmup} s of warm-up`,
    ...(h2load ? [] : [`timeout ${s.timeout ?? 2} s`]),
  ];
  if (s.holders) {
    parts.push(
      `${s.holders.count} ${s.holders.kind === 'idle' ? 'idle keep-alive' : 'slowloris'} connections ` +
        'held by the bench from before the warm-up to the end',
    );
  }
  return `Load: ${parts.join(', ')}.`;
}

/** One Markdown table per scenario, columns padded so it reads in a terminal too. */
export function table(result: ScenarioResult, results: readonly ScenarioResult[]): string {
  const s = result.scenario;
  const base = result.rows.find((r) => r.server === BASE)?.measured;
  const u = unit(s);
  const head = [
    'server',
    u,
    ...(s.baseline ? [`÷ plain ${s.baseline}`] : []),
    'p99 ms',
    s.websocket ? 'CPU µs/round trip' : 'CPU µs/req',
    ...(s.group !== undefined ? ['of it front (gateway) µs'] : []),
    'server cores',
    'errors',
    'fresh conn ms',
    ...(s.holders ? ['held: min open / replaced'] : []),
    'front RSS MiB: run max / peak',
    'worker RSS MiB: end / peak',
    `warpipe ÷ peer ${u}`,
    'warpipe ÷ peer CPU/req',
    `${s.http?.client === 'h2load' ? 'h2load' : 'wrk'} / other cores`,
  ];
  const rows = result.rows.map((r): string[] => {
    const m = r.measured;
    if (!m) return [r.server, `failed: ${r.failed ?? '?'}`, ...head.slice(2).map(() => '')];
    const peer = base && r.server !== BASE;
    const plain = ofPlain(results, s, r.server);
    const h = m.holders;
    return [
      r.server,
      s.bytesPerRequest ? fixed(throughput(s, m), 1) : fixed(m.wrk.rps, 0),
      ...(s.baseline ? [plain === null ? '—' : `${fixed(plain, 2)}`] : []),
      fixed(m.wrk.p99ms, 2),
      fixed(cpuPerRequestUs(m), 0),
      ...(s.group !== undefined ? [m.frontCpu == null ? '—' : fixed((m.frontCpu * 1e6) / m.wrk.requests, 0)] : []),
      fixed(m.serverCpu / m.wrk.seconds, 2),
      errorsCell(m.wrk.errors),
      m.probeMs === null ? 'starved' : fixed(m.probeMs, 1),
      ...(h ? [`${h.minOpen}/${h.count} / ${h.replaced}`] : []),
      m.front ? `${fixed(m.front.rssMax, 1)} / ${fixed(m.front.hwm, 1)}` : '— (workers)',
      m.workers ? `${fixed(m.workers.rss, 1)} / ${fixed(m.workers.hwm, 1)}` : '—',
      peer ? times(base.wrk.rps / m.wrk.rps) : '—',
      peer ? times(cpuPerRequestUs(base) / cpuPerRequestUs(m)) : '—',
      `${fixed(m.wrkCpu / m.wrk.seconds, 2)} / ${fixed(m.otherCpu / m.wrk.seconds, 2)}`,
    ];
  });
  const widths = head.map((hd, i) => Math.max(hd.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------
// Targets: what the lead judges warpipe by, each met / NOT met with the numbers

interface Verdict {
  text: string;
  met: boolean;
  /** the runs it compares; a disturbed one is flagged */
  runs: Measured[];
}
type Target = (results: readonly ScenarioResult[], memory: Memory | null) => Verdict | null;

/** warpipe's throughput in `scenario` (or that of `self`, one of its other entries) at least `min` times `peer`'s. */
const faster =
  (scenario: string, peer: string, min = 1, self = BASE): Target =>
  (results) => {
    const r = results.find((x) => x.scenario.name === scenario);
    const w = find(results, scenario, self);
    const p = find(results, scenario, peer);
    if (!r || !w || !p) return null;
    const u = unit(r.scenario);
    const ratio = throughput(r.scenario, w) / throughput(r.scenario, p);
    return {
      text:
        `${scenario}: ${self} ${fixed(throughput(r.scenario, w), r.scenario.bytesPerRequest ? 1 : 0)} ${u} ÷ ` +
        `${peer} ${fixed(throughput(r.scenario, p), r.scenario.bytesPerRequest ? 1 : 0)} ${u} = ${times(ratio)} (target ≥ ${min}x)`,
      met: ratio >= min,
      runs: [w, p],
    };
  };

const cheaper =
  (scenario: string, peer: string): Target =>
  (results) => {
    const w = find(results, scenario, BASE);
    const p = find(results, scenario, peer);
    if (!w || !p) return null;
    const a = cpuPerRequestUs(w);
    const b = cpuPerRequestUs(p);
    return { text: `${scenario}: warpipe ${fixed(a, 0)} CPU µs/req vs ${peer} ${fixed(b, 0)} (target ≤)`, met: a <= b, runs: [w, p] };
  };

const keepsUp =
  (scenario: string, min = 0.9): Target =>
  (results) => {
    const r = results.find((x) => x.scenario.name === scenario);
    const w = find(results, scenario, BASE);
    if (!r || !w) return null;
    const ratio = ofPlain(results, r.scenario, BASE);
    if (ratio === null) return null;
    const plain = find(results, r.scenario.baseline!, BASE)!;
    return {
      text:
        `${scenario}: warpipe ${fixed(w.wrk.rps, 0)} req/s = ${fixed(ratio, 2)} of its plain ${r.scenario.baseline} run ` +
        `(${fixed(plain.wrk.rps, 0)} req/s) (target ≥ ${min})`,
      met: ratio >= min,
      runs: [w, plain],
    };
  };

const noErrors =
  (scenario: string): Target =>
  (results) => {
    const w = find(results, scenario, BASE);
    if (!w) return null;
    return {
      text:
        `${scenario}: warpipe ${errorsCell(w.wrk.errors)} errors, p99 ${fixed(w.wrk.p99ms, 2)} ms, ` +
        `${fixed(w.wrk.rps, 0)} req/s (target: no errors)`,
      met: errorCount(w) === 0,
      runs: [w],
    };
  };

const gatewayRss =
  (maxMiB: number): Target =>
  (results) => {
    const w = find(results, 'hello', BASE);
    if (!w?.front) return null;
    return {
      text:
        `gateway RSS under the hello load: node's VmRSS peaked at ${fixed(w.front.rssMax, 1)} MiB during the run ` +
        `(VmHWM ${fixed(w.front.hwm, 1)} MiB) (target ≤ ${maxMiB} MiB)`,
      met: w.front.rssMax <= maxMiB,
      runs: [w],
    };
  };

const workerOverhead =
  (maxMiB: number): Target =>
  (results, memory) => {
    const w = find(results, 'hello', BASE);
    if (!w?.workers || memory?.bareRss == null) return null;
    const over = w.workers.rss - memory.bareRss;
    return {
      text:
        `worker overhead: a warpipe worker's VmRSS after the hello run ${fixed(w.workers.rss, 1)} MiB − ` +
        `bare \`${memory.python}\` importing the same app ${fixed(memory.bareRss, 1)} MiB = ${fixed(over, 2)} MiB (target ≤ ${maxMiB} MiB)`,
      met: over <= maxMiB,
      runs: [w],
    };
  };

export const targets: Target[] = [
  faster('hello', 'uwsgi-http11'),
  cheaper('hello', 'uwsgi-http11'),
  faster('flask', 'uwsgi-http11'),
  faster('get10k', 'uwsgi-http11'),
  faster('echo10k', 'uwsgi-http11'),
  keepsUp('slowloris50'),
  keepsUp('slowloris500'),
  keepsUp('idle500'),
  noErrors('conn1000'),
  faster('down10m', 'uwsgi-http11'),
  faster('down10m', 'uwsgi-http'),
  faster('up10m', 'uwsgi-http11'),
  faster('up10m', 'uwsgi-http'),
  faster('static1k', 'nginx-static', 0.5),
  faster('static1m', 'nginx-static', 0.5),
  faster('close', 'node-net-floor', 0.65),
  faster('close', 'gunicorn-sync', 1.5),
  faster('close', 'gunicorn-sync', 1.5, 'warpipe-gateways2'),
  faster('static1k', 'warpipe', 1.2, 'warpipe-gateways2'),
  faster('hello', 'nginx-uwsgi', 0.6, 'nginx-warpipe-uwsgi'),
  faster('hello', 'nginx-uwsgi', 1, 'nginx-warpipe-fastcgi'),
  gatewayRss(80),
  workerOverhead(5),
];

/** Lines saying whether the targets were met in this run (only those whose servers ran). */
export function targetLines(results: readonly ScenarioResult[], memory: Memory | null): string[] {
  return targets
    .map((t) => t(results, memory))
    .filter((v): v is Verdict => v !== null)
    .map((v) => {
      const noisy = Math.max(...v.runs.map(otherCores));
      const flag = noisy > NOISY_CORES ? ` ⚠ a compared run was disturbed (other load ${noisy.toFixed(2)} cores)` : '';
      return `- ${v.met ? 'met' : '**NOT met**'}: ${v.text}${flag}`;
    });
}

// ---------------------------------------------------------------------------
// Headline: one line per scenario, for the README

export const HEADLINE_START = '<!-- headline:start (written by npm run bench; copy into README.md) -->';
export const HEADLINE_END = '<!-- headline:end -->';

export function headlineLines(results: readonly ScenarioResult[], memory: Memory | null): string[] {
  const out: string[] = [];
  for (const r of results) {
    const s = r.scenario;
    const w = r.rows.find((x) => x.server === BASE)?.measured;
    if (!w) continue;
    const peers = r.rows.filter((x) => x.server !== BASE && x.measured);
    if (s.baseline) {
      const own = ofPlain(results, s, BASE);
      const others = peers.map((p) => `${label(p.server)} ${fixed(ofPlain(results, s, p.server) ?? NaN, 2)}`);
      out.push(
        `- **${s.name}**: warpipe keeps ${fixed(own ?? NaN, 2)} of its plain ${s.baseline} req/s` +
          (others.length ? ` (${others.join(', ')})` : ''),
      );
    } else if (s.name === 'conn1000') {
      const others = peers.map((p) => `${label(p.server)} ${errorCount(p.measured!)} errors / ${fixed(p.measured!.wrk.p99ms, 0)} ms`);
      out.push(
        `- **${s.name}**: warpipe ${whole(w.wrk.rps)} req/s, ${errorCount(w)} errors, p99 ${fixed(w.wrk.p99ms, 0)} ms` +
          (others.length ? ` (${others.join(', ')})` : ''),
      );
    } else {
      const ratios = peers.map((p) => {
        const t = throughput(s, p.measured!);
        return t > 0 ? `${times(throughput(s, w) / t)} ${label(p.server)}` : `${label(p.server)} served nothing`;
      });
      const value = s.bytesPerRequest ? `${fixed(throughput(s, w), 0)} MiB/s` : `${whole(w.wrk.rps)} req/s`;
      const mem = s.bytesPerRequest && w.front ? `, gateway peak RSS ${fixed(w.front.hwm, 0)} MiB` : '';
      out.push(`- **${s.name}**: warpipe ${value}${mem}${ratios.length ? `: ${ratios.join(', ')}` : ''}`);
    }
  }
  const hello = find(results, 'hello', BASE);
  if (hello?.front) {
    const over =
      hello.workers && memory?.bareRss != null
        ? `; a worker costs ${fixed(hello.workers.rss - memory.bareRss, 1)} MiB over a bare python3 importing the app`
        : '';
    out.push(`- **memory**: gateway ${fixed(hello.front.rssMax, 0)} MiB RSS under the hello load${over}`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Chart: hand-written SVG, one group of bars per scenario

const COLORS: Record<string, string> = {
  warpipe: '#d9480f',
  'gunicorn-sync': '#74c0fc',
  'gunicorn-gthread': '#1c7ed6',
  'uwsgi-http11': '#8ce99a',
  'uwsgi-http': '#2f9e44',
  'nginx-uwsgi': '#9775fa',
  waitress: '#adb5bd',
};
const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function compact(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(1);
}

/** Inline SVG (no blank lines, so Markdown keeps it one HTML block): bars relative to each scenario's fastest. */
export function chart(results: readonly ScenarioResult[]): string {
  const servers = [...new Set(results.flatMap((r) => r.rows.map((x) => x.server)))];
  const W = 820;
  const left = 150;
  const barW = W - left - 130;
  const barH = 9;
  const legendH = 22 * Math.ceil(servers.length / 4) + 34;
  const groupH = (n: number): number => n * (barH + 2) + 16;
  const H = legendH + results.reduce((a, r) => a + groupH(r.rows.length), 0) + 10;
  const el: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">Throughput per scenario (req/s; MiB/s for 10 MiB), ` +
      'bars relative to the fastest server of each scenario</text>',
  ];
  servers.forEach((s, i) => {
    const x = 10 + (i % 4) * 200;
    const y = 30 + Math.floor(i / 4) * 22;
    el.push(`<rect x="${x}" y="${y}" width="14" height="14" fill="${COLORS[s] ?? '#495057'}"/>`);
    el.push(`<text x="${x + 20}" y="${y + 11}">${xml(label(s))}</text>`);
  });
  let y = legendH;
  for (const r of results) {
    const s = r.scenario;
    const values = r.rows.map((x) => (x.measured ? throughput(s, x.measured) : NaN));
    const max = Math.max(...values.filter(Number.isFinite), 0);
    const top = y;
    el.push(`<text x="10" y="${top + 12}" font-weight="bold">${xml(s.name)}</text>`);
    if (s.baseline) el.push(`<text x="10" y="${top + 25}" fill="#495057">(÷ plain ${xml(s.baseline)} shown)</text>`);
    r.rows.forEach((x, i) => {
      const by = top + 4 + i * (barH + 2);
      const v = values[i]!;
      const len = Number.isFinite(v) && max > 0 ? Math.max(1, (v / max) * barW) : 0;
      if (len > 0) {
        el.push(`<rect x="${left}" y="${by}" width="${len.toFixed(1)}" height="${barH}" fill="${COLORS[x.server] ?? '#495057'}"/>`);
      }
      const plain = s.baseline ? ofPlain(results, s, x.server) : null;
      const text = !x.measured ? 'failed' : `${compact(v)} ${unit(s)}${plain !== null ? ` (${plain.toFixed(2)})` : ''}`;
      const weight = x.server === BASE ? ' font-weight="bold"' : '';
      el.push(`<text x="${(left + len + 4).toFixed(1)}" y="${by + barH - 1}" font-size="9"${weight}>${xml(text)}</text>`);
    });
    y += groupH(r.rows.length);
    el.push(`<line x1="10" y1="${y - 6}" x2="${W - 10}" y2="${y - 6}" stroke="#e9ecef"/>`);
  }
  el.push('</svg>');
  return el.join('\n');
}

// ---------------------------------------------------------------------------

export function resultsSection(
  results: readonly ScenarioResult[],
  settings: Settings,
  machineLines: string[],
  skipped: string[],
  memory: Memory | null,
): string {
  const parts = [
    '## Results',
    '',
    `\`${settings.command}\`: ${settings.duration === undefined ? "each scenario's own duration" : `${settings.duration} s per run`} ` +
      `after ${settings.warmup} s of warm-up, ${settings.connections} connections unless the scenario says otherwise, ` +
      `${settings.threads} wrk thread(s); the whole invocation took ${settings.minutes.toFixed(1)} min, of which ` +
      `${settings.rerunMinutes.toFixed(1)} min went to ${settings.reruns} re-runs of disturbed runs.`,
    '',
    ...machineLines,
    '',
    'One run on a shared, noisy 2-core machine (wrk and the server share the two cores): read the ratios ' +
      'between servers of the same run, not the absolute numbers. A row whose "other cores" is above ' +
      `${NOISY_CORES} was disturbed by other load even in its quietest try; targets that compare such a run say so.`,
  ];
  const t = targetLines(results, memory);
  if (t.length > 0) {
    parts.push(
      '',
      '### Targets',
      '',
      ...t,
      '',
      'Caveat on the uwsgi-http11 comparisons: `--http11-socket` serves only as many keep-alive connections as it ' +
        'has workers (2); the other 48 of wrk\'s connections wait unserved and uncounted (see "fresh conn ms": ' +
        '"starved"), so its req/s is that of 2 busy connections, with no queueing in its p99.',
    );
  }
  const headline = headlineLines(results, memory);
  if (headline.length > 0) parts.push('', '### Headline', '', HEADLINE_START, ...headline, HEADLINE_END);
  if (results.length > 0) parts.push('', '### Chart', '', chart(results));
  if (memory) {
    const w = find(results, 'hello', BASE);
    parts.push(
      '',
      '### Memory',
      '',
      `- warpipe gateway (the node process) under the hello load: VmRSS sampled every 200 ms, largest ` +
        `${fixed(w?.front?.rssMax ?? NaN, 1)} MiB; VmHWM ${fixed(w?.front?.hwm ?? NaN, 1)} MiB.`,
      `- warpipe worker: VmRSS of the largest of its ${w?.workers?.count ?? '?'} workers right after the hello run ` +
        `${fixed(w?.workers?.rss ?? NaN, 1)} MiB; a bare \`${memory.python}\` that imports the same app module and ` +
        `sleeps: ${fixed(memory.bareRss ?? NaN, 1)} MiB; overhead ` +
        `${fixed((w?.workers?.rss ?? NaN) - (memory.bareRss ?? NaN), 1)} MiB.`,
    );
  }
  for (const r of results) {
    parts.push('', `### ${r.scenario.name}: ${r.scenario.title}`, '', loadLine(r, settings), '', table(r, results));
  }
  if (skipped.length > 0) parts.push('', '### Not run', '', ...skipped.map((s) => `- ${s}`));
  return parts.join('\n');
}

/** The whole docs/benchmarks.md. */
export function document(
  results: readonly ScenarioResult[],
  settings: Settings,
  machineLines: string[],
  skipped: string[],
  servers: readonly Server[],
  memory: Memory | null,
): string {
  return `# Benchmarks

warpipe against gunicorn, uWSGI (alone and behind nginx) and waitress on the same WSGI apps, all
with 2 worker processes (waitress: 1 process, 4 threads), under \`wrk\` on loopback. This file is
written by \`npm run bench\` (the text lives in \`bench/report.ts\`); edit there, not here.

## How to run

\`\`\`sh
npm run build && npm run bench          # every scenario x every server: ~10 min on a quiet machine
npm run bench -- --duration 3 --only warpipe,uwsgi-http --scenario hello,slowloris50 --no-write
\`\`\`

Options: \`--duration SECONDS\` (each scenario's own: 5 s, and 4 s for the two 10 MiB scenarios, to
keep the full matrix within about 12 minutes; give 10 or more when a ratio near its target matters),
\`--warmup SECONDS\` (1), \`--connections N\` (50, for scenarios that name no count of their own),
\`--threads N\` wrk (and h2load) threads (1: with 2 cores, the client must not take both), \`--only a,b\` servers,
\`--scenario a,b\` scenarios (a slowloris/idle scenario brings its plain \`hello\` run along, an
HTTP/2 one its HTTP/1.1 pair: its ratio needs it), \`--retries N\` (2) re-runs of a disturbed run, \`--retry-budget SECONDS\` (180)
for all re-runs together (after that a disturbed run is kept, and flagged), \`--no-write\` to leave
this file alone. On a quiet machine the full matrix (77 runs, and 14 more for the HTTP/2 section) takes about 13 minutes; each re-run
of a run that other load disturbed adds 7-25 s, within the budget.

The bench installs nothing. It needs \`wrk\` (Debian \`wrk\`); a peer that is missing is skipped
with a note saying which package provides it: gunicorn (\`pip install gunicorn\` into the
\`python3\` first on PATH), uWSGI (Debian \`uwsgi-core\` + \`uwsgi-plugin-python3\`), nginx (Debian
\`nginx-light\`, any build with the uwsgi module), waitress (Debian \`python3-waitress\`), Flask for
the flask scenario (\`pip install flask\` for gunicorn's Python, Debian \`python3-flask\` for
\`/usr/bin/python3\`, which warpipe's workers, uWSGI's plugin and waitress use). The HTTP/2
scenarios (\`h2-*\`, their own section at the end) need \`h2load\` (Debian \`nghttp2-client\`) and
\`openssl\` for their TLS certificate.

Scenarios are entries in \`bench/scenarios.ts\` (app, path, wrk Lua/arguments, connections,
duration, held connections, baseline), servers entries in \`bench/servers.ts\` (command line,
optional readiness check, pid roots, front and worker processes); adding one is a few lines there.

## Method

- Each server is started on a free ephemeral port of 127.0.0.1, on the scenario's app from
  \`bench/apps/\` (\`hello.py\`, \`flask_app.py\`, \`payload.py\`), and is ready once a GET of the
  scenario's path answers 200 with the expected body. Every run gets a fresh server.
- wrk warms it up, then runs for the measured duration with a Lua \`done()\` hook that prints
  requests, p99 latency and errors as JSON. **req/s** is wrk's requests ÷ its measured time
  (**MiB/s** for the 10 MiB scenarios: requests × 10 MiB ÷ time); **p99** is wrk's
  99th-percentile latency; **errors** are wrk's socket errors (connect, read, write, timeout: an
  answer that came later than the scenario's wrk timeout, 2 s unless it says otherwise) plus
  responses with a status ≥ 400. wrk counts a request that is never answered nowhere: a row with
  0 req/s and 0 errors is a server that answered none of wrk's requests during the run. The POST
  scenarios set \`wrk.method\`/\`wrk.body\` in the scenario's Lua (wrk adds the Content-Length).
- **CPU µs/req**: right before and right after the measured wrk run, the bench sums, over the
  server's root pid(s) and every descendant found through \`/proc/*/stat\`, utime+stime (fields
  14+15, all threads) plus cutime+cstime (16+17: children that exited and were reaped inside the
  tree); the difference is divided by wrk's request count. Kernel softirq time (most of loopback
  TCP) is charged to no process, so it is in no one's figure. **server cores** is that CPU time ÷
  the run's duration (2.00 would be both cores).
- **fresh conn ms**: 30 % into the run the bench opens one new connection, sends one GET and
  times the first bytes of the answer; "starved" means no answer within the next 60 % of the
  run, i.e. a new client is not served while wrk's connections are busy.
- **front RSS MiB**: the process that owns the client connections (warpipe: the node process;
  uwsgi-http: the http router; nginx-uwsgi: the nginx worker; waitress: its only process) has its
  VmRSS read from \`/proc/PID/status\` every 200 ms of the measured run ("run max"), and its VmHWM
  (peak RSS over its whole life, warm-up included) after it ("peak"). gunicorn's and
  uwsgi-http11's workers face the clients themselves: "— (workers)". **worker RSS MiB**: the
  largest app worker's VmRSS right after the run and its VmHWM.
- **held** (slowloris50, slowloris500, idle500): before the warm-up the bench opens N connections
  of its own, spread over one second, and holds them to the end of the run. A slowloris
  connection sends \`GET / HTTP/1.1\`, a Host and a User-Agent line, then one more byte of
  \`X-a: b\\r\\n\` header lines every second (each connection at its own phase), never finishing the head. An idle one sends a
  complete GET, reads the answer and then sends nothing. When the server closes one (or answers a
  slowloris, e.g. with 408) the bench opens a replacement, each slot at most once a second, so N
  stay open for the whole run. "min open" is the fewest open (established as the client sees it,
  which includes connections waiting in a listen queue; not closed) at any 100 ms sample of the
  measured run, "replaced" how many the server closed during it. **÷ plain hello** is the run's
  req/s over the same server's plain hello run of the same invocation. With the default
  durations a slowloris connection is at most ~9 s old when the run ends, so servers whose head
  timeout is longer (warpipe's \`--header-timeout\` is 10 s, nginx's
  \`client_header_timeout\` 60 s) have not dropped any yet ("replaced" 0); \`--duration 15\` makes
  the replacing part of the measured run. warpipe's keep-alive timeout is 75 s (nginx's), so it keeps
  the idle ones through the run, as nginx does.
- **warpipe ÷ peer**: warpipe's req/s (MiB/s) over the peer's (above 1: warpipe faster), and
  warpipe's CPU µs/req over the peer's (below 1: warpipe cheaper per request), from the same run.
- **conn1000**: wrk with 1,000 connections, run under \`sh -c 'ulimit -n 4096; exec wrk ...'\` so
  it has the file descriptors.
- **Memory**: warpipe's gateway RSS is the hello run's front RSS; a worker's overhead is its VmRSS
  right after the hello run minus that of a bare \`/usr/bin/python3\` that puts \`bench/apps\` on
  \`sys.path\`, imports the same \`hello\` module and sleeps (measured once, after all runs).
- **wrk / other cores**: CPU used by wrk, and by everything else on the machine during the run
  (user+system+steal from \`/proc/stat\`, minus the server, wrk and the bench itself, which also
  drives the held connections): a noise gauge. A run during which other load exceeded 0.25 cores
  is re-run (up to \`--retries\` times) and the quietest try is kept.
- Between servers the bench stops the previous one (SIGTERM to its pid(s), SIGINT to uWSGI's, its
  immediate shutdown; then SIGKILL to what is left of the tree after 5 s) and waits for the machine
  to be quiet. Every run is bounded in time and only 127.0.0.1 is ever contacted.

### What each server gets

All run 2 worker processes (waitress: 4 threads in one process), no access log, and the same app
module per scenario.
${servers.map((s) => `\n- **${s.name}**: ${s.notes}`).join('')}
- uWSGI, every mode (nginx-uwsgi's \`uwsgi --socket\` too): ${uwsgiCommon}

warpipe's workers, uWSGI and waitress use Debian's \`/usr/bin/python3\` (3.11.2); gunicorn
necessarily runs on the interpreter it is installed in (pyenv's 3.11.7). That also means a
different Flask in the flask scenario (see the versions under Results: Debian's python3-flask is
older than pip's), so compare gunicorn's Flask numbers with some care.

Known caveat: uWSGI's \`--http11-socket\` serves only as many keep-alive connections at a time as
it has workers (2): each sync worker stays with its connection until the client closes it. In
every scenario with more connections than that, wrk's other connections wait unserved, and wrk
counts them nowhere, so uwsgi-http11's req/s and p99 are those of 2 busy connections and its
"fresh conn" probe starves. The same holds for the held slowloris and idle connections: they sit
in its listen queue or hold its workers.

${resultsSection(results, settings, machineLines, skipped, memory)}
`;
}

// ---------------------------------------------------------------------------
// ASGI: its own section, between markers, so a run of only the ASGI scenarios replaces just that section and a
// run of only the WSGI ones keeps it (run.ts splices)

export const ASGI_START = '<!-- asgi:start (written by npm run bench; the ASGI and WebSocket scenarios) -->';
export const ASGI_END = '<!-- asgi:end -->';

/**
 * The ASGI comparisons: warpipe (or `of`) over its peer, and the target where the issue sets one. uvicorn-relay
 * over uvicorn is the bound: the same uvicorn behind the least a Node front process can add (bench/relay.ts).
 */
const ASGI_COMPARISONS: { scenario: string; of?: string; peer: string; target: number | null }[] = [
  { scenario: 'asgi-hello', peer: 'uvicorn', target: 0.7 },
  { scenario: 'asgi-hello', of: 'uvicorn-relay', peer: 'uvicorn', target: null },
  { scenario: 'fastapi-json', peer: 'uvicorn', target: 0.9 },
  { scenario: 'fastapi-json', of: 'uvicorn-relay', peer: 'uvicorn', target: null },
  { scenario: 'ws-echo', peer: 'uvicorn-debian', target: null },
  { scenario: 'ws-deflate', peer: 'uvicorn-debian', target: null },
];

function asgiRatioLines(results: readonly ScenarioResult[]): string[] {
  const rounds = [...new Set(results.map((r) => r.round ?? 1))];
  const out: string[] = [];
  for (const c of ASGI_COMPARISONS) {
    const per = rounds
      .map((round) => {
        const rs = results.filter((r) => (r.round ?? 1) === round);
        const w = find(rs, c.scenario, c.of ?? BASE);
        const p = find(rs, c.scenario, c.peer);
        if (!w || !p || p.wrk.rps === 0) return null;
        const noisy = Math.max(otherCores(w), otherCores(p)) > NOISY_CORES ? ' ⚠ disturbed' : '';
        const gateway = fixed(((w.frontCpu ?? NaN) * 1e6) / w.wrk.requests, 0);
        return {
          quiet: noisy === '',
          ratio: w.wrk.rps / p.wrk.rps,
          text:
            `${times(w.wrk.rps / p.wrk.rps)} (${whole(w.wrk.rps)} ÷ ${whole(p.wrk.rps)}; CPU/req ` +
            `${fixed(cpuPerRequestUs(w), 0)} vs ${fixed(cpuPerRequestUs(p), 0)} µs, ${c.of === undefined ? 'gateway' : 'relay'} ` +
            `${gateway} µs of it)${noisy}`,
        };
      })
      .filter((x) => x !== null);
    if (per.length === 0) continue;
    // judged by the undisturbed rounds when there are any: a disturbed round says more about the machine
    const judged = per.some((x) => x.quiet) ? per.filter((x) => x.quiet) : per;
    const worst = Math.min(...judged.map((x) => x.ratio));
    const which = judged.length < per.length ? ' (the undisturbed rounds)' : per.length > 1 ? ' (the lower round)' : '';
    const verdict = c.target === null ? '' : ` — target ≥ ${c.target}x: ${worst >= c.target ? 'met' : '**NOT met**'}${which}`;
    out.push(
      `- **${c.scenario}**, ${c.of ?? 'warpipe'} ÷ ${c.peer}: ${per.map((x, i) => `round ${i + 1} ${x.text}`).join('; ')}${verdict}`,
    );
  }
  return out;
}

/** The "## ASGI" section, markers included. */
export function asgiSection(results: readonly ScenarioResult[], settings: Settings, machineLines: string[], skipped: string[]): string {
  const rounds = new Set(results.map((r) => r.round ?? 1)).size;
  const parts = [
    ASGI_START,
    '## ASGI',
    '',
    'The same method on ASGI 3 apps (`bench/apps/asgi_hello.py`, `fastapi_json.py`, `asgi_ws_echo.py`), every server ' +
      'with 2 workers: the smallest ASGI app and a FastAPI JSON endpoint under wrk (50 keep-alive connections) against ' +
      "uvicorn 0.54, and WebSocket echo round trips against Debian's uvicorn 0.17 (whose websockets 10.4 the newer " +
      'uvicorn cannot use). There is no wrk for WebSockets: `bench/ws-client.ts` (run as a child process, like wrk) ' +
      'opens 50 connections, each sending a ~420-byte JSON text message (masked, as a client must) and waiting for its ' +
      "echo before the next, for the run's duration; round trips/s, p99 of send-to-echo, and server CPU per round trip. " +
      'ws-deflate offers permessage-deflate (`client_max_window_bits`, as browsers do) and both servers accept it; ' +
      "ws-echo offers nothing. Its frames out are the codec's own (`encodeMessage` with a mask, `PerMessageDeflate`), " +
      "its frames in are read by a small client-side reader in the file (the codec's FrameParser is a server's).",
    '',
    '```sh',
    'npm run build',
    "apt-get install -y python3-uvicorn python3-httptools python3-websockets   # the WebSocket peer, Debian's uvicorn",
    '/usr/bin/python3 -m venv --system-site-packages /opt/bench-uvicorn',
    '/opt/bench-uvicorn/bin/pip install uvicorn==0.54      # or BENCH_UVICORN_PYTHON=DIR/bin/python',
    "/opt/bench-uvicorn/bin/pip install --ignore-installed uvloop httptools   # pip's, not Debian's older ones",
    'npm run bench -- --scenario asgi-hello,fastapi-json,ws-echo,ws-deflate --only warpipe,uvicorn,uvicorn-relay,uvicorn-debian --rounds 2',
    '```',
    '',
    'A run of only these scenarios rewrites only this section; the full `npm run bench` rewrites the whole file, this ' +
      "section included. **of it front (gateway) µs** is the node gateway's own CPU per request (utime+stime of that " +
      "one process); the rest of warpipe's figure is its Python workers. uvicorn has no front process: its workers " +
      'parse HTTP themselves. hypercorn is not in the local wheel index, so it is not compared.',
    '',
    '**uvicorn-relay** is the bound for the two uvicorn targets: the same uvicorn behind `bench/relay.ts`, a bare ' +
      '`node:net` relay that copies bytes between each client connection and one of its own to uvicorn (on a unix ' +
      'socket) and reads nothing. Any design that keeps a Node gateway in front of the Python workers (the issue asks ' +
      'for the same slow-client buffering, strict parsing and limits as WSGI apps get) pays at least that hop; ' +
      "warpipe's gateway pays it and parses, while its workers skip the HTTP parsing uvicorn's do. So uvicorn-relay " +
      '÷ uvicorn is about the most a gateway design can reach against uvicorn alone, and warpipe ÷ uvicorn-relay ' +
      'says how close warpipe is to it.',
    '',
    invocationLine(settings, rounds),
    '',
    ...machineLines,
    '',
    '### Ratios',
    '',
    ...asgiRatioLines(results),
  ];
  parts.push(...roundTables(results, settings, rounds, skipped), ASGI_END);
  return parts.join('\n');
}

/** What a section's run was: its command, rounds, durations and how long it took. */
export function invocationLine(settings: Settings, rounds: number): string {
  return (
    `\`${settings.command}\`: ${rounds} round(s), each scenario's servers back to back in every round; ` +
    `${settings.duration === undefined ? "each scenario's own duration" : `${settings.duration} s per run`} after ` +
    `${settings.warmup} s of warm-up; the invocation took ${settings.minutes.toFixed(1)} min.`
  );
}

/** A section's tables, one per scenario and round, and what was not run. */
export function roundTables(results: readonly ScenarioResult[], settings: Settings, rounds: number, skipped: readonly string[]): string[] {
  const parts: string[] = [];
  for (const r of results) {
    const title = `### ${r.scenario.name}${rounds > 1 ? ` (round ${r.round ?? 1})` : ''}: ${r.scenario.title}`;
    const same = results.filter((x) => (x.round ?? 1) === (r.round ?? 1));
    parts.push('', title, '', loadLine(r, settings), '', table(r, same));
  }
  if (skipped.length > 0) parts.push('', '### Not run', '', ...skipped.map((s) => `- ${s}`));
  return parts;
}

/** `doc` with its section between `start` and `end` replaced by `section` (appended when it has none). */
export function spliceSection(doc: string, section: string, start: string, end: string): string {
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) return `${doc.trimEnd()}\n\n${section}\n`;
  return `${doc.slice(0, a)}${section}${doc.slice(b + end.length)}`;
}

/** The section between `start` and `end` in `doc`, markers included, or null. */
export function sectionOf(doc: string, start: string, end: string): string | null {
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  return a < 0 || b < a ? null : doc.slice(a, b + end.length);
}

/** `doc` with its ASGI section replaced by `section` (appended when it has none). */
export const spliceAsgi = (doc: string, section: string): string => spliceSection(doc, section, ASGI_START, ASGI_END);

/** The ASGI section in `doc`, markers included, or null. */
export const asgiSectionOf = (doc: string): string | null => sectionOf(doc, ASGI_START, ASGI_END);
