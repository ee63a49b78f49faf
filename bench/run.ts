// `npm run bench`: every scenario x every server under wrk on 127.0.0.1,
// printing req/s, p99, server CPU per request and warpipe's ratios, and
// writing them into docs/benchmarks.md. Installs nothing; skips what is missing.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { h2Section, h2SectionOf, spliceH2 } from './h2-report.js';
import { freshProbeOver, getOver, runH2load, type Protocol } from './h2load.js';
import { HeldConnections } from './holders.js';
import {
  freePort,
  killAllNow,
  machineBusySeconds,
  memoryMiB,
  Proc,
  processCpuSeconds,
  reapedChildrenSeconds,
  selfSeconds,
  sleep,
  stop,
  stopAllAndExit,
  treeCpuSeconds,
  waitQuiet,
  which,
} from './procs.js';
import {
  asgiSection,
  asgiSectionOf,
  document,
  machine,
  spliceAsgi,
  NOISY_CORES,
  resultsSection,
  type Measured,
  type Memory,
  type Row,
  type ScenarioResult,
  type Settings,
} from './report.js';
import { DEFAULT_DURATION, scenarios, type AppRef, type Scenario } from './scenarios.js';
import { APPS, ROOT, servers, type Server } from './servers.js';
import { runWrk, type WrkOptions, type WrkResult } from './wrk.js';
import { runWsLoad } from './ws-load.js';

const READY_TIMEOUT_MS = 60_000;
/** How long the held (slowloris / idle) connections get to open before the warm-up starts. */
const HOLDERS_START_MS = 3000;
/** How often the front process's VmRSS is sampled during the measured run. */
const RSS_SAMPLE_MS = 200;

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** A numeric option: above 0, or at least 0 when `zeroOk`; whole when `integer`. */
function num(name: string, value: string | undefined, fallback: number, integer: boolean, zeroOk = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk) || (integer && !Number.isInteger(n))) {
    usage(`--${name} wants a ${integer ? 'whole ' : ''}number ${zeroOk ? '>= 0' : '> 0'}, got ${value}`);
  }
  return n;
}

function pick<T extends { name: string }>(all: readonly T[], list: string | undefined, what: string): T[] {
  if (list === undefined) return [...all];
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!all.some((x) => x.name === n)) usage(`unknown ${what} ${n}; known: ${all.map((x) => x.name).join(', ')}`);
  }
  return all.filter((x) => names.includes(x.name));
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** The protocol a scenario's client speaks: plain HTTP/1.1 unless it is one of the HTTP/2 section's. */
const protocolOf = (scenario: Scenario): Protocol => scenario.http?.protocol ?? 'h1';

/** Poll GET `path` (over the scenario's protocol) until it answers 200 with the expected body; fail if the server exits. */
async function httpReady(port: number, scenario: Scenario, procs: readonly Proc[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.exit !== null);
    if (dead) throw new Error(`exited (${JSON.stringify(dead.exit)}) before serving: ${dead.lastLines()}`);
    try {
      const r = await getOver(protocolOf(scenario), port, scenario.path, 2000);
      if (r.status === 200 && r.body.includes(scenario.expect)) return;
      last = `answered ${r.status}: ${r.body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s (${last}): ${procs.map((p) => p.lastLines()).join(' ; ')}`);
}

/**
 * The server runs apps of the scenario's interface and speaks its protocol (a WSGI server is not "skipped" on an ASGI
 * app, nor an HTTP/1.1-only server on an HTTP/2 scenario: they do not apply). The HTTP/2 section's scenarios run
 * only on the servers that say what they speak.
 */
const applies = (server: Server, scenario: Scenario): boolean =>
  (server.interfaces ?? ['wsgi']).includes(scenario.app.interface ?? 'wsgi') &&
  (scenario.http ? (server.speaks ?? []) : (server.speaks ?? ['h1'])).includes(protocolOf(scenario));

/** wrk, h2load for the HTTP/2 section, or for a WebSocket scenario the bench's own echo client, for `seconds`. */
function runLoad(scenario: Scenario, load: Omit<WrkOptions, 'seconds'>, seconds: number): Promise<WrkResult> {
  const http = scenario.http;
  if (http?.client === 'h2load') {
    const { port, path, connections, threads } = load;
    return runH2load({ port, path, connections, threads, seconds, protocol: http.protocol, streams: http.streams });
  }
  if (!scenario.websocket) return runWrk({ ...load, seconds });
  return runWsLoad({ port: load.port, path: load.path, connections: load.connections, seconds, deflate: scenario.websocket.deflate });
}

/** null when `server` can serve `scenario`'s app; else why not. */
function cannotServe(server: Server, scenario: Scenario): string | null {
  const missing = server.missing();
  if (missing) return missing;
  if (scenario.http?.client === 'h2load' && !which('h2load')) return 'h2load not found: apt-get install nghttp2-client';
  if (server.only && !server.only.includes(scenario.name)) return `serves only ${server.only.join(' and ')}`;
  const skip = scenario.skip?.(server);
  if (skip) return skip;
  const py = scenario.app.python?.() ?? server.python();
  for (const need of scenario.app.needs ?? []) {
    const r = spawnSync(py ?? 'python3', ['-c', `import ${need.module}`], { timeout: 20_000 });
    if (r.status !== 0) return `${need.module} not importable by ${py}: ${need.hint}`;
  }
  return null;
}

interface Options {
  /** --duration: overrides every scenario's own */
  duration: number | undefined;
  warmup: number;
  connections: number;
  threads: number;
  retries: number;
  /** wall seconds all re-runs together may take; once spent, disturbed runs are kept as they are */
  retryBudget: number;
  /** every scenario x server this many times, round after round (ratios compared round by round) */
  rounds: number;
}

export const durationOf = (scenario: Scenario, o: Options): number => o.duration ?? scenario.duration ?? DEFAULT_DURATION;
const connectionsOf = (scenario: Scenario, o: Options): number => scenario.connections ?? o.connections;

/** Largest VmRSS / VmHWM among `pids` (those still alive), MiB; null if none is. */
function largest(pids: readonly number[]): { rss: number; hwm: number } | null {
  const mems = pids.map(memoryMiB).filter((m) => m !== null);
  if (mems.length === 0) return null;
  return { rss: Math.max(...mems.map((m) => m.rss)), hwm: Math.max(...mems.map((m) => m.hwm)) };
}

async function measure(server: Server, scenario: Scenario, o: Options): Promise<Measured> {
  const port = await freePort();
  const procs: Proc[] = [];
  const held = scenario.holders ? new HeldConnections(port, scenario.path, scenario.holders) : null;
  let sampler: NodeJS.Timeout | null = null;
  try {
    for (const launch of server.launch(scenario.app, port)) procs.push(new Proc(launch));
    await (server.ready ? server.ready(port, procs) : httpReady(port, scenario, procs));
    const duration = durationOf(scenario, o);
    const load = {
      port,
      path: scenario.path,
      connections: connectionsOf(scenario, o),
      threads: o.threads,
      lua: scenario.lua,
      extraArgs: scenario.wrkArgs,
      timeout: scenario.timeout,
      fds: scenario.fds,
    };
    const heldAtStart = held ? await held.start(HOLDERS_START_MS) : 0;
    if (o.warmup > 0) await runLoad(scenario, load, o.warmup);

    const front = server.front(procs);
    const workers = server.workers(procs);
    let frontRssMax = 0;
    const sample = (): void => {
      const m = front === null ? null : memoryMiB(front);
      if (m) frontRssMax = Math.max(frontRssMax, m.rss);
    };
    sample();
    sampler = setInterval(sample, RSS_SAMPLE_MS);
    held?.measure();

    const roots = server.pidRoots ? server.pidRoots(procs) : procs.map((p) => p.pid);
    // (on a WebSocket scenario the probe is a plain GET of the same path: the app answers HTTP there too)
    const probe = freshProbeOver(protocolOf(scenario), port, scenario.path, duration * 300, duration * 600);
    const frontBefore = front === null ? null : processCpuSeconds(front);
    const before = { server: treeCpuSeconds(roots), wrk: reapedChildrenSeconds(), self: selfSeconds(), all: machineBusySeconds() };
    const wrk = await runLoad(scenario, load, duration);
    const serverCpu = treeCpuSeconds(roots) - before.server;
    const frontAfter = front === null ? null : processCpuSeconds(front);
    const wrkCpu = reapedChildrenSeconds() - before.wrk;
    const otherCpu = machineBusySeconds() - before.all - serverCpu - wrkCpu - (selfSeconds() - before.self);
    sample();
    clearInterval(sampler);
    const frontMem = front === null ? null : memoryMiB(front);
    const workerMem = largest(workers);
    const holders = held ? { ...held.stats(), heldAtStart } : undefined;
    held?.stop();
    const probeMs = await probe;
    const dead = procs.find((p) => p.exit !== null);
    if (dead) throw new Error(`exited during the run (${JSON.stringify(dead.exit)}): ${dead.lastLines()}`);
    return {
      wrk,
      serverCpu,
      wrkCpu,
      otherCpu: Math.max(0, otherCpu),
      probeMs,
      front: frontMem ? { rssMax: frontRssMax, hwm: frontMem.hwm } : null,
      frontCpu: frontBefore !== null && frontAfter !== null ? frontAfter - frontBefore : null,
      workers: workerMem ? { count: workers.length, ...workerMem } : null,
      holders,
      duration,
      connections: load.connections,
    };
  } finally {
    if (sampler) clearInterval(sampler);
    held?.stop();
    await stop(procs);
  }
}

/**
 * RSS of a bare interpreter that imports `app` (the way a worker does: its directory on
 * sys.path) and sleeps: the baseline of the worker-overhead figure. MiB, or null.
 */
async function bareInterpreterRss(python: string, app: AppRef): Promise<number | null> {
  const code =
    `import sys, time; sys.path.insert(0, ${JSON.stringify(APPS)}); import ${app.module}; ` +
    'print("imported", flush=True); time.sleep(60)';
  const proc = new Proc({ cmd: python, args: ['-c', code], cwd: APPS });
  try {
    const deadline = Date.now() + 20_000;
    while (!proc.output.includes('imported') && proc.exit === null && Date.now() < deadline) await sleep(50);
    await sleep(500); // let it settle into the sleep
    return memoryMiB(proc.pid)?.rss ?? null;
  } finally {
    await stop([proc], 1000);
  }
}

async function main(): Promise<void> {
  const parsed = (() => {
    try {
      return parseArgs({
        options: {
          duration: { type: 'string' },
          warmup: { type: 'string' },
          connections: { type: 'string' },
          threads: { type: 'string' },
          retries: { type: 'string' },
          'retry-budget': { type: 'string' },
          rounds: { type: 'string' },
          only: { type: 'string' },
          scenario: { type: 'string' },
          'no-write': { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
      });
    } catch (err) {
      return usage((err as Error).message);
    }
  })();
  const values = parsed.values;
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench -- [--duration S] [--warmup S] [--connections N] [--threads N] [--retries N]\n' +
        '                        [--retry-budget S] [--rounds N]\n' +
        `                        [--only ${servers.map((s) => s.name).join(',')}]\n` +
        `                        [--scenario ${scenarios.map((s) => s.name).join(',')}] [--no-write]\n`,
    );
    return;
  }
  const o: Options = {
    duration: values.duration === undefined ? undefined : num('duration', values.duration, DEFAULT_DURATION, false),
    warmup: num('warmup', values.warmup, 1, false, true),
    connections: num('connections', values.connections, 50, true),
    threads: num('threads', values.threads, 1, true),
    retries: num('retries', values.retries, 2, true, true),
    retryBudget: num('retry-budget', values['retry-budget'], 180, false, true),
    rounds: num('rounds', values.rounds, 1, true),
  };
  const chosenServers = pick(servers, values.only, 'server');
  // a scenario reported against a baseline brings the baseline along (run first: it comes first in the list)
  const asked = pick(scenarios, values.scenario, 'scenario');
  const chosenScenarios = scenarios.filter((s) => asked.includes(s) || asked.some((a) => a.baseline === s.name));
  const t0 = Date.now();

  if (chosenScenarios.some((s) => s.http?.client !== 'h2load') && !which('wrk')) {
    log('bench: wrk not found: apt-get install wrk (Debian package wrk); nothing measured');
    process.exit(1);
  }
  const skipped: string[] = [];
  for (const s of chosenServers) {
    const why = s.missing();
    if (why) {
      skipped.push(`${s.name}: ${why}`);
      log(`bench: skipping ${s.name}: ${why}`);
    }
  }

  const results: ScenarioResult[] = [];
  const reruns = { count: 0, ms: 0 };
  for (let round = 1; round <= o.rounds; round++) {
    if (o.rounds > 1) log(`bench: round ${round} of ${o.rounds}`);
    await runRound(round);
  }

  async function runRound(round: number): Promise<void> {
    for (const scenario of chosenScenarios) {
      const rows: Row[] = [];
      for (const server of chosenServers) {
        if (!applies(server, scenario)) continue;
        const why = cannotServe(server, scenario);
        if (why) {
          if (!server.missing() && round === 1) {
            skipped.push(`${server.name} on ${scenario.name}: ${why}`);
            log(`bench: skipping ${server.name} on ${scenario.name}: ${why}`);
          }
          continue;
        }
        // on a shared machine, re-run a run that other load disturbed; keep the quietest
        let best: Measured | null = null;
        for (let attempt = 0; attempt <= o.retries; attempt++) {
          if (attempt > 0 && reruns.ms >= o.retryBudget * 1000) {
            log(`bench:   (re-run budget of ${o.retryBudget} s spent: keeping the disturbed run)`);
            break;
          }
          const tryStart = Date.now();
          await waitQuiet(1000, attempt === 0 ? 10_000 : 15_000);
          log(
            `bench: ${scenario.name} on ${server.name} (${o.warmup} s warm-up + ${durationOf(scenario, o)} s, ` +
              `-c ${connectionsOf(scenario, o)})${attempt > 0 ? `, try ${attempt + 1}` : ''}`,
          );
          try {
            const m = await measure(server, scenario, o);
            const other = m.otherCpu / m.wrk.seconds;
            const e = m.wrk.errors;
            const extra = [
              m.front ? `front RSS ${m.front.rssMax.toFixed(0)}/${m.front.hwm.toFixed(0)} MiB` : '',
              m.holders ? `held ${m.holders.minOpen}/${m.holders.count}, replaced ${m.holders.replaced}` : '',
              `errors ${e.connect + e.read + e.write + e.timeout + e.status}`,
            ]
              .filter(Boolean)
              .join(', ');
            log(
              `bench:   ${m.wrk.rps.toFixed(0)} req/s, p99 ${m.wrk.p99ms.toFixed(2)} ms, ` +
                `${((m.serverCpu * 1e6) / m.wrk.requests).toFixed(0)} CPU µs/req` +
                `${m.frontCpu != null ? ` (front ${((m.frontCpu * 1e6) / m.wrk.requests).toFixed(0)})` : ''}, ${extra}, ` +
                `other load ${other.toFixed(2)} cores`,
            );
            if (!best || m.otherCpu / m.wrk.seconds < best.otherCpu / best.wrk.seconds) best = m;
            if (other <= NOISY_CORES || m.wrk.requests === 0) break; // a server that served nothing: no noise to undo
          } catch (err) {
            const message = (err as Error).message.replace(/\s+/g, ' ').slice(0, 300);
            log(`bench:   ${server.name} failed: ${message}`);
            if (!best) rows.push({ server: server.name, failed: message });
            break;
          } finally {
            if (attempt > 0) {
              reruns.count++;
              reruns.ms += Date.now() - tryStart;
            }
          }
        }
        if (best) rows.push({ server: server.name, measured: best });
      }
      if (rows.length > 0) results.push({ scenario, rows, ...(o.rounds > 1 ? { round } : {}) });
    }
  }

  // the worker-overhead baseline: a bare interpreter importing the hello app, when warpipe served hello
  let memory: Memory | null = null;
  const hello = results.find((r) => r.scenario.name === 'hello');
  if (hello?.rows.find((r) => r.server === 'warpipe')?.measured?.workers) {
    const python = servers.find((s) => s.name === 'warpipe')!.python() ?? 'python3';
    memory = { python, bareRss: await bareInterpreterRss(python, hello.scenario.app) };
  }

  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const minutes = (Date.now() - t0) / 60_000;
  const settings: Settings = { ...o, command, minutes, reruns: reruns.count, rerunMinutes: reruns.ms / 60_000 };
  const machineLines = machine(chosenServers);
  const report = sections(results, chosenScenarios, skipped, settings, machineLines, memory);
  for (const text of [report.wsgi, report.asgi, report.h2]) if (text !== null) process.stdout.write(`\n${text}\n`);
  log(
    `bench: the runs took ${minutes.toFixed(1)} min, ` +
      `${reruns.count} re-runs of disturbed runs ${(reruns.ms / 60_000).toFixed(1)} min of it`,
  );
  const h2Failed = results.filter((r) => r.scenario.group === 'h2').flatMap((r) => r.rows.filter((row) => row.failed));
  if (h2Failed.length > 0) {
    log(`bench: ${h2Failed.length} HTTP/2-section run(s) failed (see "failed:" above and in the section)`);
    process.exitCode = 1;
  }

  if (values['no-write']) return;
  if (!results.some((r) => r.rows.some((row) => row.measured))) {
    log('bench: nothing measured; docs/benchmarks.md left alone');
    process.exitCode = 1;
    return;
  }
  const file = join(ROOT, 'docs', 'benchmarks.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  // the full document when WSGI scenarios ran; else only the sections that ran are replaced, the rest stays
  let doc = report.wsgi === null ? old : document(report.wsgiResults, settings, machineLines, report.wsgiSkipped, chosenServers, memory);
  const asgi = report.asgi ?? asgiSectionOf(old);
  if (asgi !== null) doc = spliceAsgi(doc, asgi);
  const h2 = report.h2 ?? h2SectionOf(old);
  if (h2 !== null) doc = spliceH2(doc, h2);
  writeFileSync(file, doc);
  log(`bench: wrote ${file}`);
}

/** The report's sections (null: none of its scenarios ran; the WSGI one also when nothing at all did). */
function sections(
  results: readonly ScenarioResult[],
  chosen: readonly Scenario[],
  skipped: readonly string[],
  settings: Settings,
  machineLines: string[],
  memory: Memory | null,
): { wsgi: string | null; asgi: string | null; h2: string | null; wsgiResults: ScenarioResult[]; wsgiSkipped: string[] } {
  const groupOf = (name: string): string => chosen.find((s) => s.name === name)?.group ?? 'wsgi';
  // a skip line names its scenario (" on NAME:"); a server that is missing altogether goes to the WSGI section
  const skipGroup = (line: string): string => groupOf(/ on ([\w-]+):/.exec(line)?.[1] ?? '');
  const of = (group: string): ScenarioResult[] => results.filter((r) => (r.scenario.group ?? 'wsgi') === group);
  const skips = (group: string): string[] => skipped.filter((line) => skipGroup(line) === group);
  const wsgiResults = of('wsgi').filter((r) => (r.round ?? 1) === 1);
  const wsgiSkipped = skips('wsgi');
  const asgi = of('asgi').length > 0 ? asgiSection(of('asgi'), settings, machineLines, skips('asgi')) : null;
  const h2 = of('h2').length > 0 ? h2Section(of('h2'), settings, machineLines, skips('h2')) : null;
  const wsgi =
    wsgiResults.length > 0 || (asgi === null && h2 === null)
      ? resultsSection(wsgiResults, settings, machineLines, wsgiSkipped, memory)
      : null;
  return { wsgi, asgi, h2, wsgiResults, wsgiSkipped };
}

process.on('SIGINT', () => {
  log('bench: interrupted; stopping what it started');
  void stopAllAndExit(130);
});
process.on('SIGTERM', () => void stopAllAndExit(143));
process.on('exit', () => killAllNow());

main().catch((err: unknown) => {
  log(`bench: ${(err as Error).stack ?? String(err)}`);
  void stopAllAndExit(1);
});
