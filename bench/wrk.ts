// Load generation: run wrk against 127.0.0.1 with the scenario's Lua plus a
// done() hook that prints the summary as one JSON line, and a one-request
// "fresh connection" probe that shows whether a new client is served while
// wrk's connections keep the server busy.

import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Proc, sleep, tempDir } from './procs.js';

export interface WrkOptions {
  port: number;
  path: string;
  seconds: number;
  connections: number;
  threads: number;
  lua?: string;
  extraArgs?: string[];
  /** wrk --timeout, seconds (default 2) */
  timeout?: number;
  /** run wrk with at least this many file descriptors (`ulimit -n` in a sh wrapper) */
  fds?: number;
}

export interface WrkResult {
  requests: number;
  /** wall time wrk measured, seconds */
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
}

const MARK = 'WRKJSON ';

// wrk runs done() once, in the main Lua state, after all threads stopped.
// errors.status counts responses with a status >= 400.
const DONE_HOOK = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${MARK}{"requests":%.0f,"duration_us":%.0f,"p50":%.0f,"p99":%.0f,"max":%.0f,' ..
    '"connect":%.0f,"read":%.0f,"write":%.0f,"timeout":%.0f,"status":%.0f}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
`;

/** A private temp dir for the Lua scripts, removed when the bench exits (even on Ctrl-C). */
let scriptDir: string | null = null;
function scriptFile(lua: string): string {
  scriptDir ??= tempDir('warpipe-bench-');
  const file = join(scriptDir, 'bench.lua');
  writeFileSync(file, lua);
  return file;
}

/** Run wrk once; the run is killed if it overruns by its timeout + 10 s. */
export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const script = scriptFile(`${o.lua ?? ''}\n${DONE_HOOK}`);
  const timeout = o.timeout ?? 2;
  const args = [
    '-t',
    String(o.threads),
    '-c',
    String(Math.max(o.connections, o.threads)),
    '-d',
    `${o.seconds}s`,
    '--timeout',
    `${timeout}s`,
    '-s',
    script,
    ...(o.extraArgs ?? []),
    `http://127.0.0.1:${o.port}${o.path}`,
  ];
  // the soft fd limit is raised up to the hard one; sh's exec keeps wrk's pid (and its CPU in our cutime)
  const wrk = new Proc(
    o.fds
      ? { cmd: 'sh', args: ['-c', `ulimit -n ${o.fds} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec wrk "$@"`, 'wrk', ...args] }
      : { cmd: 'wrk', args },
  );
  let overran = false;
  const bound = setTimeout(
    () => {
      overran = true;
      wrk.child.kill('SIGKILL');
    },
    (o.seconds + timeout + 10) * 1000,
  );
  await wrk.finished;
  clearTimeout(bound);
  const line = wrk.output.split('\n').find((l) => l.startsWith(MARK));
  if (!line && overran && !wrk.output.includes('Running')) {
    // wrk first tries the address with a blocking connect(); a full listen queue leaves it hanging there
    throw new Error('no connection: wrk could not connect at all (its blocking test connect() hung: listen queue full)');
  }
  if (!line) throw new Error(`wrk printed no summary (exit ${JSON.stringify(wrk.exit)}): ${wrk.lastLines()}`);
  const j = JSON.parse(line.slice(MARK.length)) as Record<string, number>;
  const n = (k: string): number => j[k] ?? 0;
  const seconds = n('duration_us') / 1e6;
  return {
    requests: n('requests'),
    seconds,
    rps: seconds > 0 ? n('requests') / seconds : 0,
    p50ms: n('p50') / 1000,
    p99ms: n('p99') / 1000,
    maxms: n('max') / 1000,
    errors: { connect: n('connect'), read: n('read'), write: n('write'), timeout: n('timeout'), status: n('status') },
  };
}

/**
 * After `delayMs`, open one new connection, send one GET and time the first
 * bytes of the answer. Resolves to milliseconds, or null if no answer came
 * within `timeoutMs` (the server did not serve a new client while loaded).
 */
export async function freshConnectionProbe(port: number, path: string, delayMs: number, timeoutMs: number): Promise<number | null> {
  await sleep(delayMs);
  return new Promise((resolveProbe) => {
    const t0 = process.hrtime.bigint();
    const sock = connect({ host: '127.0.0.1', port });
    const finish = (ms: number | null): void => {
      clearTimeout(timer);
      sock.destroy();
      resolveProbe(ms);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    sock.once('data', () => finish(Number(process.hrtime.bigint() - t0) / 1e6));
    sock.on('error', () => finish(null));
  });
}
