// The HTTP/2 section of docs/benchmarks.md: its own markers, so a run of only the
// HTTP/2 scenarios (group 'h2' in bench/scenarios.ts) replaces just this section
// and a full run keeps it (run.ts splices, as for the ASGI section). Ratios are
// taken round by round, inside one invocation: HTTP/2 ÷ HTTP/1.1 of the same
// server and app from the same client (h2load, and h2load --h1), with the CPU per
// request of each side, and warpipe ÷ nginx + uWSGI over HTTP/2.

import { spawnSync } from 'node:child_process';
import {
  cpuPerRequestUs,
  find,
  fixed,
  invocationLine,
  type Measured,
  NOISY_CORES,
  otherCores,
  roundTables,
  type ScenarioResult,
  sectionOf,
  type Settings,
  spliceSection,
  times,
  whole,
} from './report.js';
import { H2_CONNECTIONS, H2_STREAMS } from './scenarios.js';

export const H2_START = '<!-- h2:start (written by npm run bench; the HTTP/2 scenarios) -->';
export const H2_END = '<!-- h2:end -->';

/** A run of `scenario` on `server`, one side of a comparison. */
interface Side {
  scenario: string;
  server: string;
}

/** `a`'s req/s over `b`'s in the same round; the target, where the issue sets one. */
const COMPARISONS: { label: string; a: Side; b: Side; target: number | null }[] = [
  {
    label: 'hello, warpipe: HTTP/2 (h2c) ÷ HTTP/1.1 (h2load --h1)',
    a: { scenario: 'h2-hello', server: 'warpipe' },
    b: { scenario: 'h2-hello-h1', server: 'warpipe' },
    target: 0.9,
  },
  {
    label: 'hello, warpipe: HTTP/2 (h2c, h2load) ÷ HTTP/1.1 (wrk)',
    a: { scenario: 'h2-hello', server: 'warpipe' },
    b: { scenario: 'h2-hello-wrk', server: 'warpipe' },
    target: null,
  },
  {
    label: 'hello over TLS, warpipe: h2 ÷ http/1.1 (h2load --h1)',
    a: { scenario: 'h2-hello-tls', server: 'warpipe-https' },
    b: { scenario: 'h2-hello-tls-h1', server: 'warpipe-https' },
    target: null,
  },
  {
    label: 'Flask, warpipe: HTTP/2 (h2c) ÷ HTTP/1.1 (h2load --h1)',
    a: { scenario: 'h2-flask', server: 'warpipe' },
    b: { scenario: 'h2-flask-h1', server: 'warpipe' },
    target: null,
  },
  {
    label: 'hello, nginx + uWSGI: HTTP/2 (h2c) ÷ HTTP/1.1 (h2load --h1)',
    a: { scenario: 'h2-hello', server: 'nginx-uwsgi-h2' },
    b: { scenario: 'h2-hello-h1', server: 'nginx-uwsgi' },
    target: null,
  },
  {
    label: 'hello over HTTP/2 (h2c): warpipe ÷ nginx + uWSGI',
    a: { scenario: 'h2-hello', server: 'warpipe' },
    b: { scenario: 'h2-hello', server: 'nginx-uwsgi-h2' },
    target: null,
  },
  {
    label: 'hello over TLS (h2): warpipe ÷ nginx + uWSGI',
    a: { scenario: 'h2-hello-tls', server: 'warpipe-https' },
    b: { scenario: 'h2-hello-tls', server: 'nginx-uwsgi-h2-tls' },
    target: null,
  },
  {
    label: 'Flask over HTTP/2 (h2c): warpipe ÷ nginx + uWSGI',
    a: { scenario: 'h2-flask', server: 'warpipe' },
    b: { scenario: 'h2-flask', server: 'nginx-uwsgi-h2' },
    target: null,
  },
];

/** "12,345 req/s, 40 CPU µs/req (gateway 25)" for one side: of its CPU, warpipe's gateway's or nginx's worker's own. */
function sideText(m: Measured, server: string): string {
  const front = server.startsWith('nginx') ? 'nginx worker' : 'gateway';
  const gateway = m.frontCpu == null ? '' : ` (${front} ${fixed((m.frontCpu * 1e6) / m.wrk.requests, 0)})`;
  return `${whole(m.wrk.rps)} req/s, ${fixed(cpuPerRequestUs(m), 0)} CPU µs/req${gateway}`;
}

/** One line per comparison that ran: every round's ratio and both sides' CPU per request, the verdict on the target. */
export function h2RatioLines(results: readonly ScenarioResult[]): string[] {
  const rounds = [...new Set(results.map((r) => r.round ?? 1))];
  const out: string[] = [];
  for (const c of COMPARISONS) {
    const per = rounds
      .map((round) => {
        const rs = results.filter((r) => (r.round ?? 1) === round);
        const a = find(rs, c.a.scenario, c.a.server);
        const b = find(rs, c.b.scenario, c.b.server);
        if (!a || !b || b.wrk.rps === 0) return null;
        const noisy = Math.max(otherCores(a), otherCores(b)) > NOISY_CORES ? ' ⚠ disturbed' : '';
        return {
          quiet: noisy === '',
          ratio: a.wrk.rps / b.wrk.rps,
          text: `${times(a.wrk.rps / b.wrk.rps)} (${sideText(a, c.a.server)} ÷ ${sideText(b, c.b.server)})${noisy}`,
        };
      })
      .filter((x) => x !== null);
    if (per.length === 0) continue;
    // judged by the undisturbed rounds when there are any
    const judged = per.some((x) => x.quiet) ? per.filter((x) => x.quiet) : per;
    const worst = Math.min(...judged.map((x) => x.ratio));
    const which = judged.length < per.length ? ' (the undisturbed rounds)' : per.length > 1 ? ' (the lower round)' : '';
    const verdict = c.target === null ? '' : ` — target ≥ ${c.target}x: ${worst >= c.target ? 'met' : '**NOT met**'}${which}`;
    out.push(`- **${c.label}**: ${per.map((x, i) => `round ${i + 1} ${x.text}`).join('; ')}${verdict}`);
  }
  return out;
}

/** First line a command prints, or null. */
function versionOf(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return r.error ? null : (`${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? null);
}

export const H2_COMMAND =
  'npm run bench -- --scenario h2-hello,h2-hello-wrk,h2-hello-tls,h2-flask ' +
  '--only warpipe,warpipe-https,nginx-uwsgi,nginx-uwsgi-h2,nginx-uwsgi-h2-tls --rounds 2';

/** The "## HTTP/2" section, markers included. */
export function h2Section(results: readonly ScenarioResult[], settings: Settings, machineLines: string[], skipped: string[]): string {
  const rounds = new Set(results.map((r) => r.round ?? 1)).size;
  const gatewayNode = process.env.WARPIPE_NODE || 'node';
  const gatewaySource = process.env.WARPIPE_NODE ? '`WARPIPE_NODE`' : '`node` on PATH';
  const parts = [
    H2_START,
    '## HTTP/2',
    '',
    "HTTP/2 against HTTP/1.1 on the hello and Flask apps (2 workers), from one client: nghttp2's `h2load` (Debian " +
      '`nghttp2-client`). The HTTP/2 runs (`h2-hello`, `h2-flask`: h2c with prior knowledge on `warpipe --http`; ' +
      `\`h2-hello-tls\`: h2 by ALPN on \`warpipe --https\`) open ${H2_CONNECTIONS} connections with ${H2_STREAMS} ` +
      'concurrent streams each (`h2load -c 5 -m 10`); their HTTP/1.1 pairs (`*-h1`) are the same h2load with `--h1 -c 50 ' +
      '-m 1`: the same 50 requests in flight, one per connection, no pipelining. `h2-hello-wrk` is the HTTP/1.1 hello ' +
      "under wrk -c 50 as in the main results, to tie h2load's HTTP/1.1 figure to wrk's. The peer is nginx terminating " +
      'HTTP/2 in front of uWSGI, as `nginx-uwsgi` (`uwsgi_pass` on a unix socket, a new connection per request: ' +
      'uwsgi_pass keeps none): `nginx-uwsgi-h2` listens with `http2` in the clear (nginx 1.22 then speaks only h2c ' +
      "there, so nginx's HTTP/1.1 figure is `nginx-uwsgi`'s), `nginx-uwsgi-h2-tls` with `ssl http2`.",
    '',
    '```sh',
    'npm run build',
    H2_COMMAND,
    '```',
    '',
    'h2load runs for `-D` seconds after a separate warm-up run of the same load (`-t 1`: one client thread); req/s is ' +
      "h2load's, p99 comes from its `--log-file` (one line per request). A run in which any request failed, errored, " +
      'timed out or was answered with a status ≥ 400, or that negotiated another protocol than asked (h2c, h2, ' +
      'http/1.1), fails loudly: no numbers are kept, the table says `failed:` and the bench exits 1. CPU per request is ' +
      "measured as in the main results (the server's whole process tree); **of it front (gateway) µs** is the node " +
      "gateway's (or nginx worker's) own. The fresh-connection probe speaks the scenario's protocol and is timed to " +
      'the end of its answer (TLS handshake included). A run of only these scenarios rewrites only this section. The ' +
      'gateway runs on the `node` first on PATH (`WARPIPE_NODE` overrides it, as for the `warpipe` command): node:http2 ' +
      'costs differ between Node versions, so run it on the Node you deploy (the line "gateway Node" below says which ' +
      'one this run used).',
    '',
    invocationLine(settings, rounds),
    '',
    ...machineLines,
    `- gateway Node: ${versionOf(gatewayNode, ['--version']) ?? 'unknown'} (${gatewaySource}); ` +
      `${versionOf('h2load', ['--version']) ?? 'h2load not installed'}`,
    '',
    '### Ratios',
    '',
    ...h2RatioLines(results),
  ];
  parts.push(...roundTables(results, settings, rounds, skipped), H2_END);
  return parts.join('\n');
}

/** `doc` with its HTTP/2 section replaced by `section` (appended when it has none). */
export const spliceH2 = (doc: string, section: string): string => spliceSection(doc, section, H2_START, H2_END);

/** The HTTP/2 section in `doc`, markers included, or null. */
export const h2SectionOf = (doc: string): string | null => sectionOf(doc, H2_START, H2_END);
