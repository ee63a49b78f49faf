// Issue 11: a log reader that stalls must cost log lines, not the gateway's
// memory. With stderr a non-blocking pipe nobody reads, every line met EAGAIN and
// went to Node's stream queue, without bound: an app writing 150 MB to
// wsgi.errors grew the gateway by as much. Now the queue holds about 1 MiB; the
// lines beyond it are counted and the count said once writing works again.
// (--access-log - on stdout is bounded the same way: src/access-log.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI, FIXTURES } from '../helpers/server.js';

const STALL = fileURLToPath(new URL('../../../test/fixtures/stall-output.py', import.meta.url));
const MiB = 1 << 20;

/** VmRSS or VmHWM of `pid`, bytes. */
function mem(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

test('a stalled reader of stderr: the gateway stays within bounds, serves on, and says how many lines it dropped', {
  timeout: 180_000,
}, async (t) => {
  // the gateway's stdout and stderr are a pipe that stall-output.py reads only when told to
  const proc = spawn('python3', [STALL, process.execPath, CLI, 'hostile:application', '--http', '127.0.0.1:0', '--workers', '1'], {
    cwd: FIXTURES,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const waiters: (() => void)[] = [];
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (text: string) => {
    out += text;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  const waitFor = async (pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(out);
      if (m) return m;
      if (proc.exitCode !== null) throw new Error(`exited before ${pattern}:\n${out}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${out.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  let listening: RegExpExecArray;
  try {
    listening = await waitFor(/\[(\d+)\] \[INFO\] listening on http:\/\/127\.0\.0\.1:(\d+)/);
  } catch (err) {
    proc.kill('SIGTERM');
    throw err;
  }
  const pid = Number(listening[1]);
  const url = `http://127.0.0.1:${listening[2]}`;
  // a wedged gateway fails the test instead of hanging it
  const get = async (path: string): Promise<string> => (await fetch(`${url}${path}`, { signal: AbortSignal.timeout(60_000) })).text();
  try {
    await waitFor(/1 worker ready/);
    // the condition of the issue: a non-blocking pipe (set once the worker is spawned: libuv made it blocking then)
    proc.stdin.write('nonblock\nstall\n');
    const pidText = await get('/pid');
    const base = mem(pid, 'VmRSS');

    for (let i = 0; i < 3; i++) {
      assert.equal(await get('/flood?50'), 'flooded');
    }
    const flags = Number.parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/2`, 'utf8'))![1]!, 8);
    assert.ok(flags & 0o4000, 'fd 2 of the gateway was non-blocking throughout');
    for (let i = 0; i < 5; i++) assert.equal(await get('/pid'), pidText, 'still served, by the same worker');
    const peak = mem(pid, 'VmHWM');
    t.diagnostic(`gateway RSS ${(base / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB after`);
    assert.ok(
      peak < base + 100 * MiB,
      `peak RSS ${(peak / MiB).toFixed(0)} MiB, from ${(base / MiB).toFixed(0)} MiB before 150 MiB of log lines`,
    );

    // read the pipe again: once the queue has drained, the count of the lines lost comes with the next line
    proc.stdin.write('read\n');
    let lost: RegExpExecArray | null = null;
    for (let i = 0; lost === null; i++) {
      assert.ok(i < 600, `no loss reported:\n${out.slice(-2000)}`);
      await get(`/note?after-${i}`);
      await new Promise((r) => setTimeout(r, 50));
      lost = /\[WARNING\] (\d+) log lines were lost[^\n]*/.exec(out);
    }
    t.diagnostic(lost[0]);
    // 150 MiB in 1 KiB lines; the pipe and the queue hold a few MiB of them
    assert.ok(Number(lost[1]) > 100_000, lost[0]);
    await waitFor(/note: after-\d+\n/);
    assert.equal(out.split(' log lines were lost').length, 2, `said once:\n${out.slice(-2000)}`);
  } finally {
    proc.stdin.end('read\n');
    process.kill(pid, 'SIGTERM');
  }
  assert.equal(await exited, 0);
});
