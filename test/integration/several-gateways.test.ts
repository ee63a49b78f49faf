// --gateways N: one primary and N gateway processes sharing every listener.
// Real primary, real gateways, real Python workers, real HTTP clients: the
// connections spread over the gateways, a gateway killed under load leaves the
// other serving and is replaced, --control and --metrics speak for all of them,
// and the logs stay one log.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServer, type Server } from '../helpers/server.js';
import { alive, childPids } from '../helpers/procs.js';
import { freePort } from '../helpers/net.js';
import { canReusePort } from '../../src/listeners/bind.js';

/** An app that answers with the pid of the gateway that owns its worker. */
const APP = `import os

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [str(os.getppid()).encode()]
`;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warpipe-gateways-'));
  writeFileSync(join(dir, 'gwapp.py'), APP);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** `requests` GETs one after another on one kept-alive connection; the bodies. */
async function oneConnection(port: number, requests: number, path = '/', answered = (): void => {}): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const bodies: string[] = [];
  try {
    for (let i = 0; i < requests; i++) {
      bodies.push(
        await new Promise<string>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path, agent }, (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => (body += d));
              res.on('end', () => {
                resolve(`${res.statusCode} ${body}`);
                answered();
              });
            })
            .on('error', reject);
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return bodies;
}

const control = (path: string): Promise<{ code: number | null; stdout: string; stderr: string }> => runCli(['status', '--control', path]);

/** The gateways' pids, as `warpipe status` lists them. */
async function gatewayPids(path: string): Promise<number[]> {
  const { code, stdout, stderr } = await control(path);
  assert.equal(code, 0, stderr);
  const m = /in (\d+) gateways \(pids ([\d, ]+)\)/.exec(stdout);
  assert.ok(m, stdout);
  return m[2]!.split(', ').map(Number);
}

describe('--gateways 2', () => {
  let server: Server;
  let ctl: string;
  before(async () => {
    ctl = join(dir, 'ctl.sock');
    server = await startServer('gwapp:application', {
      cwd: dir,
      args: ['--workers', '4', '--gateways', '2', '--control', ctl, '--metrics', '127.0.0.1:0', '--access-log', join(dir, 'access.log')],
    });
  });
  after(async () => {
    await server.stop();
  });

  test('3,000 requests over 60 connections: every one answered, by both gateways, each with its share of the workers', async () => {
    const gateways = await gatewayPids(ctl);
    assert.equal(gateways.length, 2);
    // The connections open one after another, as clients arrive (a burst of connects can all be taken by
    // whichever gateway wakes first: it accepts all that wait), then all 60 run at once.
    const connections: Promise<string[]>[] = [];
    for (let i = 0; i < 60; i++) {
      let opened!: () => void;
      const first = new Promise<void>((resolve) => (opened = resolve));
      connections.push(oneConnection(server.port, 50, '/', opened));
      await first;
    }
    const bodies = (await Promise.all(connections)).flat();
    assert.equal(bodies.length, 3000);
    const by = new Map<string, number>();
    for (const b of bodies) by.set(b, (by.get(b) ?? 0) + 1);
    const seen = [...by].map(([b, n]) => `${b} x ${n}`).join(', ');
    assert.deepEqual(
      [...by.keys()].sort(),
      gateways.map((pid) => `200 ${pid}`).sort(),
      `answered by both gateways, and only by them: ${seen}`,
    );
    const { stdout } = await control(ctl);
    for (const [i, pid] of gateways.entries()) {
      assert.equal(childPids(pid).length, 2, `gateway ${i + 1} runs 2 of the 4 workers:\n${stdout}`);
      assert.equal(stdout.split('\n').filter((l) => l.startsWith(`${i + 1} `)).length, 2, stdout);
    }
  });

  test('--metrics is the sum over the gateways; the access log has one whole line per request', async () => {
    const metricsUrl = /metrics on (http:\S+)/.exec(server.logs())![1]!;
    const read = async (): Promise<string> => (await fetch(metricsUrl)).text();
    const count = (text: string): number => Number(/^warpipe_requests_total\{listener="http",code="200"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const before = count(await read());
    await Promise.all(Array.from({ length: 10 }, () => oneConnection(server.port, 20, '/metrics-check')));
    const text = await read();
    assert.equal(count(text) - before, 200, 'every request of both gateways counted once');
    assert.match(text, /^warpipe_gateways 2$/m);
    assert.match(text, /^warpipe_workers\{state="idle"\} 4$/m);
    assert.match(text, /^warpipe_info\{version="[^"]+"\} 1$/m, 'the version once, not summed');
    // the access log is gathered and written every 100 ms: wait until the 200 lines are there
    const path = join(dir, 'access.log');
    let lines: string[] = [];
    for (let i = 0; i < 100 && lines.length < 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lines = readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.includes('/metrics-check'));
    }
    assert.equal(lines.length, 200);
    for (const l of lines) assert.match(l, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/metrics-check HTTP\/1\.1" 200 \d+ "-" "-"$/);
  });

  test("warpipe reload, then SIGHUP to the primary: every gateway's pool moves to the next generation", async () => {
    const generations = async (): Promise<number[]> => {
      const { stdout } = await control(ctl);
      return stdout
        .split('\n')
        .filter((l) => /^\d+ +\d+ +\d+ +idle/.test(l))
        .map((l) => Number(l.split(/ +/)[2]));
    };
    const waitFor = async (generation: number): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        const g = await generations();
        if (g.length === 4 && g.every((n) => n === generation)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`not all 4 workers reached generation ${generation}: ${(await control(ctl)).stdout}`);
    };
    const start = Math.max(...(await generations()));
    const { code, stdout } = await runCli(['reload', '--control', ctl]);
    assert.equal(code, 0);
    assert.equal(stdout, 'reloading\n');
    await waitFor(start + 1);
    server.proc.kill('SIGHUP');
    await waitFor(start + 2);
  });

  test("a gateway killed with SIGKILL under load: the other serves on, a new one replaces it, the old one's workers go", async () => {
    const [first, second] = await gatewayPids(ctl);
    const orphans = childPids(first!);
    let running = true;
    const answers: string[] = [];
    const loops = Array.from({ length: 8 }, async () => {
      while (running) {
        try {
          answers.push(...(await oneConnection(server.port, 5)));
        } catch {
          answers.push('error'); // a connection the killed gateway held
        }
      }
    });
    await new Promise((r) => setTimeout(r, 200));
    process.kill(first!, 'SIGKILL');
    await server.waitForLog(new RegExp(`gateway \\d \\(pid ${first}\\) was killed by SIGKILL; the others serve on`));
    const mark = answers.length;
    await server.waitForLog(/gateway \d \(pid \d+\) serves, 2 workers/);
    const during = answers.slice(mark);
    running = false;
    await Promise.all(loops);
    assert.ok(during.includes(`200 ${second}`), 'the other gateway answered while the first was being replaced');
    const now = await gatewayPids(ctl);
    assert.ok(now.includes(second!) && !now.includes(first!) && now.length === 2, `${now}`);
    const replacement = now.find((p) => p !== second)!;
    const after = await oneConnection(server.port, 1);
    assert.match(after[0]!, /^200 \d+$/);
    for (let i = 0; i < 100 && orphans.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(orphans.filter(alive), [], "the killed gateway's workers exit");
    assert.equal(childPids(replacement).length, 2, 'the replacement runs its 2 workers');
  });
});

test('--gateways: more gateways than workers, or not a count, is one line and exit 2', async () => {
  for (const [args, message] of [
    [['--workers', '2', '--gateways', '3'], /--gateways 3 needs --workers 3 or more/],
    [['--gateways', 'many'], /--gateways must be a whole number of at least 1, or auto, got "many"/],
    [['--gateways', '0'], /--gateways must be a whole number of at least 1, or auto, got "0"/],
  ] as const) {
    const { code, stderr } = await runCli(['hello:application', ...args]);
    assert.equal(code, 2, stderr);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, message);
  }
});

test('--gateways 2 with an app that does not import: the traceback, exit 3, and no process left behind', async () => {
  const { code, stderr } = await runCli(['badimport:application', '--workers', '2', '--gateways', '2', '--http', '127.0.0.1:0']);
  assert.equal(code, 3, stderr);
  assert.match(stderr, /ModuleNotFoundError: No module named 'this_module_does_not_exist'/);
  const gateways = [...stderr.matchAll(/\[(\d+)\] \[ERROR\] the app failed to start/g)].map((m) => Number(m[1]));
  assert.ok(gateways.length >= 1, stderr);
  for (const pid of gateways) assert.equal(alive(pid), false, `gateway ${pid} is gone`);
});

test('--gateways 2, one failing to start while the other is still starting: its status, and the other stopped too', async () => {
  // Gateway 1 refuses its --middleware at once; gateway 2 takes 1.5 s to import it, so the primary's
  // "stop" reaches it before it listens for the primary's word, and must be said again once it is ready
  const mw = join(dir, 'one-refuses.mjs');
  writeFileSync(
    mw,
    "if (process.env.WARPIPE_GATEWAY === '1/2') throw new Error('gateway 1 refuses this middleware');\n" +
      'await new Promise((resolve) => setTimeout(resolve, 1500));\n' +
      'export default (app) => app;\n',
  );
  const { code, stderr } = await runCli(
    ['hello:application', '--workers', '2', '--gateways', '2', '--http', '127.0.0.1:0', '--middleware', mw],
    { timeoutMs: 20_000 },
  );
  assert.equal(code, 2, stderr);
  assert.match(stderr, /gateway 1 refuses this middleware/);
  const pids = [...stderr.matchAll(/\[(\d+)\] \[(?:INFO|WARNING|ERROR)\]/g)].map((m) => Number(m[1]));
  for (const pid of new Set(pids)) assert.equal(alive(pid), false, `process ${pid} is gone`);
});

test("--gateways 2 on a unix socket: both gateways take connections from it (neither removes the other's socket)", async () => {
  const sock = join(dir, 'http.sock');
  const server = await startServer('gwapp:application', {
    cwd: dir,
    args: ['--workers', '2', '--gateways', '2', '--http', `unix:${sock}`, '--control', join(dir, 'ctl2.sock')],
  });
  try {
    const seen = new Set<string>();
    for (let round = 0; round < 20 && seen.size < 2; round++) {
      const bodies = await Promise.all(
        Array.from(
          { length: 10 },
          () =>
            new Promise<string>((resolve, reject) => {
              http
                .get({ socketPath: sock, path: '/', agent: false }, (res) => {
                  let body = '';
                  res.on('data', (d: Buffer) => (body += d.toString()));
                  res.on('end', () => resolve(body));
                })
                .on('error', reject);
            }),
        ),
      );
      for (const b of bodies) seen.add(b);
    }
    assert.deepEqual([...seen].map(Number).sort(), (await gatewayPids(join(dir, 'ctl2.sock'))).sort());
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('--gateways auto says what it chose, and from how many CPUs, in the first line', async () => {
  const server = await startServer('gwapp:application', { cwd: dir, args: ['--workers', '1', '--gateways', 'auto'] });
  try {
    assert.match(server.logs().split('\n')[0]!, /1 worker x 1 thread in 1 gateway \(--gateways auto, \d+ CPUs\), python /);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('on a fixed TCP port, each gateway has a socket of its own (SO_REUSEPORT): a burst of 40 connects reaches both', async (t) => {
  if (!canReusePort()) {
    console.log(`# SKIP: Node ${process.versions.node} has no reusePort (22.12 on): the gateways share one socket`);
    t.skip('Node without reusePort');
    return;
  }
  const port = await freePort();
  const ctl = join(dir, 'ctl3.sock');
  const server = await startServer('gwapp:application', {
    cwd: dir,
    args: ['--workers', '2', '--gateways', '2', '--http', `127.0.0.1:${port}`, '--control', ctl],
  });
  try {
    const bodies = await Promise.all(Array.from({ length: 40 }, () => oneConnection(port, 1)));
    const pids = new Set(bodies.flat());
    assert.deepEqual([...pids].sort(), (await gatewayPids(ctl)).map((pid) => `200 ${pid}`).sort());
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
