// `npm run bench`: every scenario x every server under wrk on 127.0.0.1,
// printing req/s, p99, server CPU per request and warpipe's ratios, and
// writing them into docs/benchmarks.md. Installs nothing; skips what is missing.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  freePort, httpGet, killAllNow, machineBusySeconds, Proc, reapedChildrenSeconds, selfSeconds, sleep, stop,
  stopAllAndExit, treeCpuSeconds, waitQuiet, which,
} from './procs.js';
import { document, machine, resultsSection, type Measured, type Row, type ScenarioResult, type Settings } from './report.js';
import { scenarios, type Scenario } from './scenarios.js';
import { ROOT, servers, type Server } from './servers.js';
import { freshConnectionProbe, runWrk } from './wrk.js';

const READY_TIMEOUT_MS = 60_000;
/** A run during which the rest of the machine used more than this many cores is re-run (see --retries). */
const NOISY_CORES = 0.25;

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
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!all.some((x) => x.name === n)) usage(`unknown ${what} ${n}; known: ${all.map((x) => x.name).join(', ')}`);
  }
  return all.filter((x) => names.includes(x.name));
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Poll GET `path` until it answers 200 with the expected body; fail if the server exits. */
async function httpReady(port: number, scenario: Scenario, procs: readonly Proc[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.exit !== null);
    if (dead) throw new Error(`exited (${JSON.stringify(dead.exit)}) before serving: ${dead.lastLines()}`);
    try {
      const r = await httpGet(port, scenario.path, 2000);
      if (r.status === 200 && r.body.includes(scenario.expect)) return;
      last = `answered ${r.status}: ${r.body.slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s (${last}): ${procs.map((p) => p.lastLines()).join(' ; ')}`);
}

/** null when `server` can serve `scenario`'s app; else why not. */
function cannotServe(server: Server, scenario: Scenario): string | null {
  const missing = server.missing();
  if (missing) return missing;
  const py = server.python();
  for (const need of scenario.app.needs ?? []) {
    const r = spawnSync(py ?? 'python3', ['-c', `import ${need.module}`], { timeout: 20_000 });
    if (r.status !== 0) return `${need.module} not importable by ${py}: ${need.hint}`;
  }
  return null;
}

interface Options {
  duration: number;
  warmup: number;
  connections: number;
  threads: number;
  retries: number;
}

async function measure(server: Server, scenario: Scenario, o: Options): Promise<Measured> {
  const port = await freePort();
  const procs: Proc[] = [];
  try {
    for (const launch of server.launch(scenario.app, port)) procs.push(new Proc(launch));
    await (server.ready ? server.ready(port, procs) : httpReady(port, scenario, procs));
    const load = {
      port,
      path: scenario.path,
      connections: scenario.connections ?? o.connections,
      threads: o.threads,
      lua: scenario.lua,
      extraArgs: scenario.wrkArgs,
    };
    if (o.warmup > 0) await runWrk({ ...load, seconds: o.warmup });

    const roots = server.pidRoots ? server.pidRoots(procs) : procs.map((p) => p.pid);
    const probe = freshConnectionProbe(port, scenario.path, o.duration * 300, o.duration * 600);
    const before = { server: treeCpuSeconds(roots), wrk: reapedChildrenSeconds(), self: selfSeconds(), all: machineBusySeconds() };
    const wrk = await runWrk({ ...load, seconds: o.duration });
    const serverCpu = treeCpuSeconds(roots) - before.server;
    const wrkCpu = reapedChildrenSeconds() - before.wrk;
    const otherCpu = machineBusySeconds() - before.all - serverCpu - wrkCpu - (selfSeconds() - before.self);
    const probeMs = await probe;
    const dead = procs.find((p) => p.exit !== null);
    if (dead) throw new Error(`exited during the run (${JSON.stringify(dead.exit)}): ${dead.lastLines()}`);
    return { wrk, serverCpu, wrkCpu, otherCpu: Math.max(0, otherCpu), probeMs };
  } finally {
    await stop(procs);
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
        `                        [--only ${servers.map((s) => s.name).join(',')}]\n` +
        `                        [--scenario ${scenarios.map((s) => s.name).join(',')}] [--no-write]\n`,
    );
    return;
  }
  const o: Options = {
    duration: num('duration', values.duration, 10, false),
    warmup: num('warmup', values.warmup, 2, false, true),
    connections: num('connections', values.connections, 50, true),
    threads: num('threads', values.threads, 1, true),
    retries: num('retries', values.retries, 2, true, true),
  };
  const chosenServers = pick(servers, values.only, 'server');
  const chosenScenarios = pick(scenarios, values.scenario, 'scenario');

  if (!which('wrk')) {
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
  for (const scenario of chosenScenarios) {
    const rows: Row[] = [];
    for (const server of chosenServers) {
      const why = cannotServe(server, scenario);
      if (why) {
        if (!server.missing()) {
          skipped.push(`${server.name} on ${scenario.name}: ${why}`);
          log(`bench: skipping ${server.name} on ${scenario.name}: ${why}`);
        }
        continue;
      }
      // on a shared machine, re-run a run that other load disturbed; keep the quietest
      let best: Measured | null = null;
      for (let attempt = 0; attempt <= o.retries; attempt++) {
        await waitQuiet(1500, attempt === 0 ? 10_000 : 30_000);
        log(`bench: ${scenario.name} on ${server.name} (${o.warmup} s warm-up + ${o.duration} s)${attempt > 0 ? `, try ${attempt + 1}` : ''}`);
        try {
          const m = await measure(server, scenario, o);
          const other = m.otherCpu / m.wrk.seconds;
          log(`bench:   ${m.wrk.rps.toFixed(0)} req/s, p99 ${m.wrk.p99ms.toFixed(2)} ms, ${((m.serverCpu * 1e6) / m.wrk.requests).toFixed(0)} CPU µs/req, other load ${other.toFixed(2)} cores`);
          if (!best || m.otherCpu / m.wrk.seconds < best.otherCpu / best.wrk.seconds) best = m;
          if (other <= NOISY_CORES) break;
        } catch (err) {
          const message = (err as Error).message.replace(/\s+/g, ' ').slice(0, 300);
          log(`bench:   ${server.name} failed: ${message}`);
          if (!best) rows.push({ server: server.name, failed: message });
          break;
        }
      }
      if (best) rows.push({ server: server.name, measured: best });
    }
    if (rows.length > 0) results.push({ scenario, rows });
  }

  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const settings: Settings = { ...o, command };
  const machineLines = machine(chosenServers);
  process.stdout.write(`\n${resultsSection(results, settings, machineLines, skipped)}\n`);

  if (values['no-write']) return;
  if (!results.some((r) => r.rows.some((row) => row.measured))) {
    log('bench: nothing measured; docs/benchmarks.md left alone');
    process.exitCode = 1;
    return;
  }
  const file = join(ROOT, 'docs', 'benchmarks.md');
  writeFileSync(file, document(results, settings, machineLines, skipped, chosenServers));
  log(`bench: wrote ${file}`);
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
