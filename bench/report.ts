// Presentation: the machine description, the per-scenario Markdown tables
// (printed to stdout and written into docs/benchmarks.md with the how-to and
// method text), and the lead's targets checked against the same run.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
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
}

export interface Row {
  server: string;
  measured?: Measured;
  failed?: string;
}

export interface ScenarioResult {
  scenario: Scenario;
  rows: Row[];
}

export interface Settings {
  duration: number;
  warmup: number;
  connections: number;
  threads: number;
  command: string;
}

/** The numbers the lead judges warpipe by: warpipe's req/s ÷ the peer's, in this scenario. */
export const targets = [
  { scenario: 'hello', peer: 'uwsgi-http', min: 1 },
  { scenario: 'hello', peer: 'gunicorn-sync', min: 2 },
];

const BASE = 'warpipe';

const cpuPerRequestUs = (m: Measured): number => (m.wrk.requests > 0 ? (m.serverCpu * 1e6) / m.wrk.requests : NaN);

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

const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '—');

/** One Markdown table per scenario, columns padded so it reads in a terminal too. */
export function table(result: ScenarioResult): string {
  const base = result.rows.find((r) => r.server === BASE)?.measured;
  const head = [
    'server', 'req/s', 'p99 ms', 'CPU µs/req', 'server cores', 'errors', 'fresh conn ms',
    'warpipe ÷ peer req/s', 'warpipe ÷ peer CPU/req', 'wrk / other cores',
  ];
  const rows = result.rows.map((r): string[] => {
    const m = r.measured;
    if (!m) return [r.server, `failed: ${r.failed ?? '?'}`, '', '', '', '', '', '', '', ''];
    const peer = base && r.server !== BASE;
    return [
      r.server,
      fixed(m.wrk.rps, 0),
      fixed(m.wrk.p99ms, 2),
      fixed(cpuPerRequestUs(m), 0),
      fixed(m.serverCpu / m.wrk.seconds, 2),
      errorsCell(m.wrk.errors),
      m.probeMs === null ? 'starved' : fixed(m.probeMs, 1),
      peer ? `${fixed(base.wrk.rps / m.wrk.rps, 2)}x` : '—',
      peer ? `${fixed(cpuPerRequestUs(base) / cpuPerRequestUs(m), 2)}x` : '—',
      `${fixed(m.wrkCpu / m.wrk.seconds, 2)} / ${fixed(m.otherCpu / m.wrk.seconds, 2)}`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Lines saying whether the targets were met in this run (only those whose servers ran). */
export function targetLines(results: readonly ScenarioResult[]): string[] {
  const out: string[] = [];
  for (const t of targets) {
    const r = results.find((x) => x.scenario.name === t.scenario);
    const base = r?.rows.find((x) => x.server === BASE)?.measured;
    const peer = r?.rows.find((x) => x.server === t.peer)?.measured;
    if (!base || !peer) continue;
    const ratio = base.wrk.rps / peer.wrk.rps;
    out.push(`- ${t.scenario}: warpipe ÷ ${t.peer} = ${ratio.toFixed(2)}x (target ≥ ${t.min}x): ${ratio >= t.min ? 'met' : 'NOT met'}`);
  }
  return out;
}

export function resultsSection(results: readonly ScenarioResult[], settings: Settings, machineLines: string[], skipped: string[]): string {
  const parts = [
    '## Results',
    '',
    `\`${settings.command}\`: ${settings.duration} s per run after ${settings.warmup} s of warm-up, ` +
      `${settings.connections} connections, ${settings.threads} wrk thread(s).`,
    '',
    ...machineLines,
    '',
    'One run on a shared, noisy 2-core machine (wrk and the server share the two cores): read the ratios ' +
      'between servers of the same run, not the absolute numbers.',
  ];
  for (const r of results) parts.push('', `### ${r.scenario.name}: ${r.scenario.title}`, '', table(r));
  const t = targetLines(results);
  if (t.length > 0) parts.push('', '### Targets', '', ...t);
  if (skipped.length > 0) parts.push('', '### Not run', '', ...skipped.map((s) => `- ${s}`));
  return parts.join('\n');
}

/** The whole docs/benchmarks.md. */
export function document(results: readonly ScenarioResult[], settings: Settings, machineLines: string[], skipped: string[], servers: readonly Server[]): string {
  return `# Benchmarks

warpipe against gunicorn and uWSGI on the same WSGI apps, all with 2 worker processes, under
\`wrk\` on loopback. This file is written by \`npm run bench\` (the text lives in
\`bench/report.ts\`); edit there, not here.

## How to run

\`\`\`sh
npm run build && npm run bench                      # every scenario x every server, 10 s each
npm run bench -- --duration 5 --only warpipe,uwsgi-http --scenario hello --no-write
\`\`\`

Options: \`--duration SECONDS\` (10), \`--warmup SECONDS\` (2), \`--connections N\` (50),
\`--threads N\` wrk threads (1: with 2 cores, wrk must not take both), \`--only a,b\` servers,
\`--scenario a,b\` scenarios, \`--retries N\` (2) re-runs of a disturbed run, \`--no-write\` to
leave this file alone.

The bench installs nothing. It needs \`wrk\` (Debian \`wrk\`); a peer that is missing is skipped
with a note saying which package provides it: gunicorn (\`pip install gunicorn\` into the
\`python3\` first on PATH), uWSGI (Debian \`uwsgi-core\` + \`uwsgi-plugin-python3\`), Flask for
the flask scenario (\`pip install flask\` for gunicorn's Python, Debian \`python3-flask\` for
\`/usr/bin/python3\`, which warpipe's workers and uWSGI's plugin use).

Scenarios are entries in \`bench/scenarios.ts\` (app, path, wrk Lua/arguments), servers entries in
\`bench/servers.ts\` (command line, optional readiness check and pid roots); adding one is a few
lines there.

## Method

- Each server is started on a free ephemeral port of 127.0.0.1, on the scenario's app from
  \`bench/apps/\`, and is ready once a GET of the scenario's path answers 200 with the expected body.
- wrk warms it up, then runs for the measured duration with a Lua \`done()\` hook that prints
  requests, p99 latency and errors as JSON. **req/s** is wrk's requests ÷ its measured time;
  **p99** is wrk's 99th-percentile latency; **errors** are wrk's socket errors (connect, read,
  write, timeout > 2 s) plus responses with a status ≥ 400.
- **CPU µs/req**: right before and right after the measured wrk run, the bench sums, over the
  server's root pid and every descendant found through \`/proc/*/stat\`, utime+stime (fields 14+15,
  all threads) plus cutime+cstime (16+17: children that exited and were reaped inside the tree);
  the difference is divided by wrk's request count. Kernel softirq time (most of loopback TCP)
  is charged to no process, so it is in no one's figure. **server cores** is that CPU time ÷ the
  run's duration (2.00 would be both cores).
- **fresh conn ms**: 30 % into the run the bench opens one new connection, sends one GET and
  times the first bytes of the answer; "starved" means no answer within the next 60 % of the
  run, i.e. a new client is not served while wrk's connections are busy.
- **warpipe ÷ peer**: warpipe's req/s over the peer's (above 1: warpipe faster), and warpipe's
  CPU µs/req over the peer's (below 1: warpipe cheaper per request), from the same run.
- **wrk / other cores**: CPU used by wrk, and by everything else on the machine during the run
  (user+system+steal from \`/proc/stat\`, minus the server, wrk and the bench itself): a noise
  gauge. A run during
  which other load exceeded 0.25 cores is re-run (up to \`--retries\` times) and the quietest try
  is kept.
- Between servers the bench stops the previous one (SIGTERM to its pid, then SIGKILL to what is
  left of its tree) and waits for the machine to be quiet. Every run is bounded in time and only
  127.0.0.1 is ever contacted.

### What each server gets

All run 2 worker processes, no access log, and the same app module per scenario.
${servers.map((s) => `\n- **${s.name}**: ${s.notes}`).join('')}
- uWSGI, both modes: ${uwsgiCommon}

warpipe's workers and uWSGI use Debian's \`/usr/bin/python3\` (3.11.2); gunicorn necessarily runs on
the interpreter it is installed in (pyenv's 3.11.7). That also means a different Flask in the flask
scenario (see the versions under Results: Debian's python3-flask is older than pip's), so compare
gunicorn's Flask numbers with some care.

${resultsSection(results, settings, machineLines, skipped)}
`;
}
