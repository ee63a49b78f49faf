// The process manager under real load: workers killed at random, reloads with
// changing code, recycling, request timeouts with a stack dump, the bounded
// queue. Real gateway, real Python workers, real HTTP clients.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runCli, startServer, type Server } from '../helpers/server.js';
import { childPids as workerPids } from '../helpers/procs.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Load {
  /** status (or 'error: ...') -> count */
  counts: Map<string, number>;
  bodies: Set<string>;
  stop(): Promise<void>;
}

/** `clients` loops of GET `url`, each waiting for its answer (10 s at most) before the next. */
function load(url: string, clients = 8): Load {
  const counts = new Map<string, number>();
  const bodies = new Set<string>();
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      let key: string;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        const body = await res.text();
        key = String(res.status);
        if (res.status === 200) bodies.add(body);
      } catch (err) {
        key = `error: ${(err as Error).message}`;
      }
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    counts,
    bodies,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const total = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);
const show = (counts: Map<string, number>): string => JSON.stringify(Object.fromEntries(counts));

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('workers killed with SIGKILL under load', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--workers', '3'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('every request succeeds, or gets 502 if its worker was killed under it; the pool is whole again after', async () => {
    const l = load(`${srv.url}/sized?100`);
    let kills = 0;
    try {
      for (let i = 0; i < 8; i++) {
        await sleep(250);
        const pids = workerPids(srv.proc.pid!);
        if (pids.length === 0) continue;
        process.kill(pids[Math.floor(Math.random() * pids.length)]!, 'SIGKILL');
        kills++;
      }
      await sleep(300);
    } finally {
      await l.stop();
    }
    const ok = l.counts.get('200') ?? 0;
    const bad = l.counts.get('502') ?? 0;
    assert.equal(ok + bad, total(l.counts), `only 200 and 502: ${show(l.counts)}`);
    assert.ok(bad <= kills, `at most one 502 per kill (${kills} kills): ${show(l.counts)}`);
    assert.ok(ok > 100, `load went on: ${show(l.counts)}`);
    await waitFor('3 workers again', () => workerPids(srv.proc.pid!).length === 3);
    assert.equal((await fetch(`${srv.url}/sized?3`)).status, 200);
  });
});

describe('a respawned worker that hangs while importing the app', () => {
  test('is killed after --boot-timeout and respawned with backoff until the app imports again', async () => {
    const dir = mkdtempSync(`${tmpdir()}/warpipe-hang-`);
    writeFileSync(
      `${dir}/hangapp.py`,
      [
        'import os, time',
        'if os.path.exists("hang"):',
        '    time.sleep(60)',
        'def application(environ, start_response):',
        '    start_response("200 OK", [])',
        '    return [b"up"]',
        '',
      ].join('\n'),
    );
    const srv = await startServer('hangapp:application', { cwd: dir, args: ['--workers', '1', '--boot-timeout', '1'] });
    try {
      writeFileSync(`${dir}/hang`, '');
      process.kill(workerPids(srv.proc.pid!)[0]!, 'SIGKILL');
      await srv.waitForLog(/did not start within 1s \(--boot-timeout\); killing it[^]*respawning in \d+ ms/);
      rmSync(`${dir}/hang`);
      const deadline = Date.now() + 20_000;
      let body = '';
      while (Date.now() < deadline && body !== 'up') {
        body = await fetch(srv.url, { signal: AbortSignal.timeout(5000) }).then(
          (r) => r.text(),
          () => '',
        );
        if (body !== 'up') await sleep(200);
      }
      assert.equal(body, 'up');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });
});

describe('graceful reload', () => {
  let srv: Server;
  let dir: string;
  const writeApp = (version: number): void =>
    writeFileSync(
      `${dir}/versioned.py`,
      'def application(environ, start_response):\n' +
        '    start_response("200 OK", [("Content-Type", "text/plain")])\n' +
        `    return [b"version ${version}"]\n`,
    );
  before(async () => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-reload-`);
    writeApp(1);
    srv = await startServer('versioned:application', {
      cwd: dir,
      args: ['--touch-reload', `${dir}/touch`],
      env: { PYTHONDONTWRITEBYTECODE: '1' },
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('five SIGHUPs under load while the code changes: no request fails, responses switch to the new code', async () => {
    const l = load(`${srv.url}/`);
    try {
      for (let v = 2; v <= 6; v++) {
        await sleep(200);
        writeApp(v);
        srv.proc.kill('SIGHUP');
        await srv.waitForLog(new RegExp(`reload: generation ${v - 1} serving`));
        const res = await fetch(`${srv.url}/`);
        assert.equal(await res.text(), `version ${v}`);
      }
      await sleep(200);
    } finally {
      await l.stop();
    }
    assert.equal(l.counts.get('200'), total(l.counts), `every request 200: ${show(l.counts)}`);
    assert.ok(l.bodies.has('version 1') && l.bodies.has('version 6'), [...l.bodies].join(', '));
    await waitFor('the old workers gone', () => workerPids(srv.proc.pid!).length === 2);
  });

  test('new code that fails to import: the old workers keep serving, the error is logged', async () => {
    writeFileSync(`${dir}/versioned.py`, 'raise RuntimeError("broken release")\n');
    srv.proc.kill('SIGHUP');
    await srv.waitForLog(/reload failed, the old workers keep serving[^]*broken release/);
    const res = await fetch(`${srv.url}/`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'version 6');
  });

  test('--touch-reload: touching the file reloads', async () => {
    writeApp(7);
    writeFileSync(`${dir}/touch`, '');
    await sleep(1100);
    const t = new Date(Date.now() + 5000);
    utimesSync(`${dir}/touch`, t, t);
    await srv.waitForLog(/was touched: reloading/);
    const deadline = Date.now() + 15_000;
    let body = '';
    while (Date.now() < deadline && body !== 'version 7') {
      body = await (await fetch(`${srv.url}/`)).text();
      if (body !== 'version 7') await sleep(100);
    }
    assert.equal(body, 'version 7');
  });
});

describe('recycling', () => {
  let srv: Server;
  let l: Load | null = null;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--max-requests', '50', '--max-requests-jitter', '10'] });
  });
  after(async () => {
    await l?.stop();
    assert.equal(await srv.stop(), 0);
  });

  test('--max-requests 50 under load: workers are replaced and no request fails', async () => {
    l = load(`${srv.url}/sized?10`);
    await srv.waitForLog(/retiring \(served \d+ requests \(--max-requests 50\)\)[^]*retiring \(served/);
    await sleep(1500);
    await l.stop();
    assert.equal(l.counts.get('200'), total(l.counts), `every request 200: ${show(l.counts)}`);
    assert.ok(total(l.counts) > 300, show(l.counts));
    assert.match(srv.logs(), /exited \(code 0\) after retiring/);
  });
});

describe('recycling by memory and by age', () => {
  test('--max-rss: a worker past the limit is replaced, the replacement first', async () => {
    const srv = await startServer('pep3333:application', { args: ['--workers', '1', '--max-rss', '60'] });
    try {
      const pid = Number(await (await fetch(`${srv.url}/hog?80`)).text());
      await srv.waitForLog(new RegExp(`worker ${pid}: resident memory \\d+\\.\\d MiB \\(--max-rss 60\\); starting its replacement`));
      await srv.waitForLog(new RegExp(`worker ${pid} exited \\(code 0\\) after retiring`));
      const now = await (await fetch(`${srv.url}/hog?1`)).text();
      assert.notEqual(Number(now), pid);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('--max-lifetime under load: workers are replaced and no request fails', async () => {
    const srv = await startServer('pep3333:application', { args: ['--max-lifetime', '1'] });
    const l = load(`${srv.url}/sized?10`, 4);
    try {
      await srv.waitForLog(/retiring \(running for \d+s \(--max-lifetime 1\)\)[^]*retiring \(running for/);
      await sleep(500);
    } finally {
      await l.stop();
      assert.equal(await srv.stop(), 0);
    }
    assert.equal(l.counts.get('200'), total(l.counts), `every request 200: ${show(l.counts)}`);
  });
});

describe('request timeout (--timeout)', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--timeout', '2', '--workers', '1'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('a hanging request gets 504 after about 2 s, the log names it and shows its Python stack, the pool recovers', async () => {
    const t0 = Date.now();
    const res = await fetch(`${srv.url}/sleep?30`);
    const took = (Date.now() - t0) / 1000;
    assert.equal(res.status, 504);
    assert.ok(took >= 2 && took < 4, `504 after ${took}s`);
    await srv.waitForLog(/timed out after 2\.\d+s handling GET \/sleep\?30 \(--timeout 2\)/);
    // faulthandler's dump of the hung thread: the app's frame, in the app's file
    await srv.waitForLog(/File "[^"]*pep3333\.py", line \d+ in sleep/);
    const ok = await fetch(`${srv.url}/sized?5`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'sssss');
  });
});

describe('the queue: --backlog and --queue-timeout', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: ['--workers', '1', '--pipeline', '0', '--backlog', '1', '--queue-timeout', '0.5'],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('a request that waits too long gets 503 with Retry-After; one past the backlog gets it at once', async () => {
    const busy = fetch(`${srv.url}/sleep?1.5`);
    await sleep(200);
    const t0 = Date.now();
    const waiting = fetch(`${srv.url}/sized?1`);
    await sleep(100);
    const t1 = Date.now();
    const refused = await fetch(`${srv.url}/sized?2`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.ok(Date.now() - t1 < 300, 'refused at once');
    const timedOut = await waiting;
    assert.equal(timedOut.status, 503);
    assert.equal(timedOut.headers.get('retry-after'), '1');
    const waited = (Date.now() - t0) / 1000;
    assert.ok(waited >= 0.5 && waited < 1.2, `503 after ${waited}s`);
    assert.equal((await busy).status, 200);
    await srv.waitForLog(/queue full: \d+ requests? got 503/);
  });
});

describe('autoscaling (--workers MIN:MAX)', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--workers', '1:3', '--idle-timeout', '1', '--pipeline', '0'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('grows to MAX under a burst of slow requests, then back to MIN once idle', async () => {
    assert.equal(workerPids(srv.proc.pid!).length, 1);
    const l = load(`${srv.url}/sleep?0.2`, 6);
    try {
      await waitFor('3 workers', () => workerPids(srv.proc.pid!).length === 3, 15_000);
      await srv.waitForLog(/scaling up to 2 workers[^]*scaling up to 3 workers/);
      await sleep(500);
      assert.equal(workerPids(srv.proc.pid!).length, 3, 'never more than MAX');
    } finally {
      await l.stop();
    }
    assert.equal(l.counts.get('200'), total(l.counts), show(l.counts));
    await waitFor('back to 1 worker', () => workerPids(srv.proc.pid!).length === 1, 15_000);
    assert.match(srv.logs(), /retiring \(idle for 1s, scaling down to 2\)[^]*retiring \(idle for 1s, scaling down to 1\)/);
  });

  test('SIGTTIN adds a worker and SIGTTOU removes one', async () => {
    srv.proc.kill('SIGTTIN');
    await srv.waitForLog(/SIGTTIN: 2 to 4 workers/);
    await waitFor('2 workers', () => workerPids(srv.proc.pid!).length === 2);
    srv.proc.kill('SIGTTOU');
    await srv.waitForLog(/SIGTTOU: 1 to 3 workers/);
    srv.proc.kill('SIGTTOU'); // (sent apart: a signal sent while the same one is pending is merged with it)
    await srv.waitForLog(/SIGTTOU: already down to one worker/);
    await waitFor('1 worker', () => workerPids(srv.proc.pid!).length === 1);
  });
});

describe('graceful shutdown under load', () => {
  test('SIGTERM: requests in flight complete, new connections are refused, exit code 0', async () => {
    const srv = await startServer('pep3333:application', { args: ['--workers', '3'] });
    const inflight = Array.from({ length: 2 }, () =>
      fetch(`${srv.url}/sleep?0.8`).then(
        (r) => r.status,
        (e: Error) => e.message,
      ),
    );
    const l = load(`${srv.url}/sized?10`, 4);
    await sleep(300);
    const code = srv.stop('SIGTERM');
    await l.stop();
    assert.deepEqual(await Promise.all(inflight), [200, 200]);
    assert.equal(await code, 0);
    for (const key of l.counts.keys()) assert.ok(key === '200' || key.startsWith('error'), show(l.counts));
    assert.ok((l.counts.get('200') ?? 0) > 20, show(l.counts));
    await assert.rejects(fetch(`${srv.url}/sized?1`));
  });
});

describe('visibility: warpipe status, warpipe reload, SIGUSR1', () => {
  let srv: Server;
  let control: string;
  before(async () => {
    control = `${mkdtempSync(`${tmpdir()}/warpipe-ctl-`)}/control.sock`;
    srv = await startServer('pep3333:application', { args: ['--control', control] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('warpipe status prints every worker with its state, requests served, running request and its age, RSS', async () => {
    const slow = fetch(`${srv.url}/sleep?4`);
    // asked until the request has run half a second: a busy machine may start it late, never a scheduling window
    let r = await runCli(['status', '--control', control]);
    const age = (): number => Number(/busy .*GET \/sleep\?4 \((\d+\.\d)s\)/.exec(r.stdout)?.[1] ?? -1);
    for (let i = 0; i < 100 && age() < 0.5; i++) {
      await sleep(100);
      r = await runCli(['status', '--control', control]);
    }
    assert.equal(r.code, 0, r.stderr);
    const pids = workerPids(srv.proc.pid!);
    for (const pid of pids) assert.match(r.stdout, new RegExp(`^${pid}\\s+0\\s+(busy|idle)\\s+\\d+\\s+\\d+\\.\\d`, 'm'));
    assert.ok(age() >= 0.5 && age() < 4, r.stdout);
    assert.match(r.stdout, /^pool: 2 workers \(generation 0\), 0 requests queued/);
    assert.equal(statSync(control).mode & 0o777, 0o600);
    srv.proc.kill('SIGUSR1');
    await srv.waitForLog(/status:\npool: 2 workers/);
    assert.equal((await slow).status, 200);
  });

  test('warpipe reload reloads; bad use is one line and exit 2; a dead socket is exit 1', async () => {
    const r = await runCli(['reload', '--control', control]);
    assert.equal(r.code, 0, r.stderr);
    await srv.waitForLog(/reload: generation 1 serving/);
    const bad = await runCli(['status', '--bogus']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^warpipe: warpipe status: unexpected argument --bogus/);
    const none = await runCli(['status', '--control', `${control}.missing`]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /cannot reach the gateway/);
  });
});

describe('development reload (--reload)', () => {
  let srv: Server;
  let dir: string;
  const body = async (): Promise<string> => (await fetch(`${srv.url}/`)).text();
  const until = async (want: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    let got = '';
    while (Date.now() < deadline && (got = await body()) !== want) await sleep(100);
    assert.equal(got, want);
  };
  before(async () => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-dev-`);
    mkdirSync(`${dir}/templates`);
    writeFileSync(`${dir}/templates/page.html`, 'one');
    writeFileSync(`${dir}/helper.py`, 'WORD = "alpha"\n');
    writeFileSync(
      `${dir}/devapp.py`,
      [
        'import helper',
        'def application(environ, start_response):',
        '    start_response("200 OK", [("Content-Type", "text/plain")])',
        '    return [helper.WORD.encode()]',
        '',
      ].join('\n'),
    );
    srv = await startServer('devapp:application', {
      cwd: dir,
      args: ['--reload', '--reload-extra', 'templates/*.html'],
      env: { PYTHONDONTWRITEBYTECODE: '1' },
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('a changed module reloads the workers; other files do not; --reload-extra globs do', async () => {
    assert.equal(await body(), 'alpha');
    writeFileSync(`${dir}/helper.py`, 'WORD = "beta"\n');
    await until('beta');
    const reloads = (srv.logs().match(/changed: reloading/g) ?? []).length;
    writeFileSync(`${dir}/notes.txt`, 'not watched');
    await sleep(700);
    assert.equal((srv.logs().match(/changed: reloading/g) ?? []).length, reloads, 'a .txt file is not watched');
    writeFileSync(`${dir}/templates/page.html`, 'two');
    await srv.waitForLog(/page\.html changed: reloading/);
  });
});

describe('--preload', () => {
  let srv: Server;
  let dir: string;
  const writeApp = (version: number): void =>
    writeFileSync(
      `${dir}/preloaded.py`,
      [
        'import os',
        'IMPORTED_IN = os.getpid()',
        'def application(environ, start_response):',
        '    start_response("200 OK", [("Content-Type", "text/plain")])',
        `    return [b"%d %d %d" % (${version}, IMPORTED_IN, os.getpid())]`,
        '',
      ].join('\n'),
    );
  /** [version, pid that imported the app, pid that served] */
  const hit = async (): Promise<number[]> => (await (await fetch(`${srv.url}/`)).text()).split(' ').map(Number);
  before(async () => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-preload-`);
    writeApp(1);
    srv = await startServer('preloaded:application', {
      cwd: dir,
      args: ['--preload', '--workers', '2'],
      env: { PYTHONDONTWRITEBYTECODE: '1' },
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('the app is imported once, in the template; the workers are forked from it', async () => {
    const [template] = workerPids(srv.proc.pid!);
    assert.equal(workerPids(srv.proc.pid!).length, 1, 'the gateway spawned only the template');
    const forked = workerPids(template!);
    assert.equal(forked.length, 2, 'two workers forked by the template');
    const served = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const [version, importedIn, pid] = await hit();
      assert.equal(version, 1);
      assert.equal(importedIn, template);
      served.add(pid!);
    }
    for (const pid of served) assert.ok(forked.includes(pid), `${pid} is a forked worker`);
  });

  test('a forked worker killed under load is forked again; only requests it was running fail', async () => {
    const [template] = workerPids(srv.proc.pid!);
    const l = load(`${srv.url}/`, 4);
    try {
      for (let i = 0; i < 3; i++) {
        await sleep(300);
        process.kill(workerPids(template!)[0]!, 'SIGKILL');
      }
      await sleep(300);
    } finally {
      await l.stop();
    }
    const bad = l.counts.get('502') ?? 0;
    assert.equal((l.counts.get('200') ?? 0) + bad, total(l.counts), show(l.counts));
    assert.ok(bad <= 3, show(l.counts));
    await waitFor('two forked workers again', () => workerPids(template!).length === 2);
  });

  test('SIGHUP starts a new template, so the reload serves the new code; no request fails', async () => {
    const [oldTemplate] = workerPids(srv.proc.pid!);
    const l = load(`${srv.url}/`, 4);
    try {
      writeApp(2);
      srv.proc.kill('SIGHUP');
      await srv.waitForLog(/reload: generation 1 serving/);
      await sleep(300);
    } finally {
      await l.stop();
    }
    assert.equal(l.counts.get('200'), total(l.counts), show(l.counts));
    const [version, importedIn] = await hit();
    assert.equal(version, 2);
    assert.notEqual(importedIn, oldTemplate);
    await waitFor('the old template gone', () => workerPids(srv.proc.pid!).length === 1 && workerPids(srv.proc.pid!)[0] === importedIn);
  });
});
