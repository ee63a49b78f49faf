// Issue 14, "Health, warm-up and safe reloads", with the real gateway, real
// Python workers and real sockets: --health before the app chain (booting,
// serving, saturated), --warmup at start and on a reload whose new code breaks
// a view (Flask), --pid-file, the 75 s keep-alive and the idle connections
// closed to make room at --max-connections, and the requests the drain cuts off.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FIXTURES, pythonHas, requirePeer, runCli, startServer, type Server } from '../helpers/server.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'warpipe-health-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A kept-alive raw connection: one request at a time, each answer read by its Content-Length. */
class Kept {
  readonly sock: net.Socket;
  readonly closed: Promise<void>;
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | null = null;

  constructor(where: number | string) {
    this.sock = typeof where === 'number' ? net.connect(where, '127.0.0.1') : net.connect(where);
    this.sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiting?.();
    });
    this.sock.on('error', () => {});
    this.closed = new Promise((resolve) => this.sock.on('close', () => resolve()));
  }

  connected(): Promise<void> {
    return new Promise((resolve) => this.sock.once('connect', () => resolve()));
  }

  /** GET `path`; resolves with the status line, the head and the body. */
  async get(path: string, method = 'GET'): Promise<{ status: number; head: string; body: string }> {
    this.sock.write(`${method} ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.subarray(0, end).toString('latin1');
        const length = method === 'HEAD' ? 0 : Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buf.length >= end + 4 + length) {
          const body = this.buf.subarray(end + 4, end + 4 + length).toString();
          this.buf = this.buf.subarray(end + 4 + length);
          return { status: Number(head.slice(9, 12)), head, body };
        }
      }
      if (this.sock.destroyed) throw new Error(`connection closed before the answer to ${path}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        this.sock.once('close', () => resolve());
      });
    }
  }
}

describe('--health', () => {
  let srv: Server;
  const flags = tempDir();
  before(async () => {
    srv = await startServer('probes:application', {
      args: ['--health', '/healthz', '--workers', '1', '--backlog', '1', '--pipeline', '0', '--static', `/healthz=${FIXTURES}`],
    });
  });
  after(() => srv.stop());

  test('200 with the pool in JSON, before --static and the app; HEAD alike; other methods 405', async () => {
    const res = await fetch(`${srv.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), { status: 'ok', workers: 1, busy: 0, queued: 0 });
    assert.equal((await fetch(`${srv.url}/healthz?verbose=1`)).status, 200);
    const head = await fetch(`${srv.url}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await fetch(`${srv.url}/healthz`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    // --static is mounted at the same path, and never sees the probe; a path under it, or longer, is not the probe
    assert.equal((await fetch(`${srv.url}/healthz/hello.py`)).status, 200);
    assert.equal(await (await fetch(`${srv.url}/healthzz`)).text(), 'app saw /healthzz');
  });

  test('503 "saturated" while the queue is full; 200 again once it drains', async () => {
    const flag = join(flags, 'release');
    const running = fetch(`${srv.url}/block?${flag}`);
    await srv.waitForLog(/probes: blocking until/);
    const queued = fetch(`${srv.url}/block?${flag}`); // --backlog 1: the queue is full with this one
    let res: Response;
    // until the queued request has reached the gateway's queue (the probe is read after it, or not)
    do res = await fetch(`${srv.url}/healthz`);
    while (res.status === 200 && (await res.json()) !== null);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.deepEqual(await res.json(), { status: 'saturated', workers: 1, busy: 1, queued: 1 });
    writeFileSync(flag, '');
    assert.equal(await (await running).text(), 'released');
    assert.equal(await (await queued).text(), 'released');
    assert.deepEqual(await (await fetch(`${srv.url}/healthz`)).json(), { status: 'ok', workers: 1, busy: 0, queued: 0 });
  });
});

test('--health: 503 "booting" while the workers import (the sockets are bound first), 200 once they serve', async () => {
  const dir = tempDir();
  const gate = join(dir, 'import-done');
  const sock = join(dir, 'http.sock');
  const proc = spawn(process.execPath, [CLI, 'probes:application', '--http', `unix:${sock}`, '--health', '/healthz', '--workers', '1'], {
    cwd: FIXTURES,
    env: { ...process.env, PROBES_GATE: gate },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const logged = (re: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const look = (): void => {
        if (re.test(log)) resolve();
        else if (proc.exitCode !== null) reject(new Error(`exited before ${re}:\n${log}`));
        else proc.stderr.once('data', look);
      };
      look();
    });
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  try {
    await logged(/probes: import waits for/);
    const booting = await new Kept(sock).get('/healthz');
    assert.equal(booting.status, 503);
    assert.equal((JSON.parse(booting.body) as { status: string }).status, 'booting');
    writeFileSync(gate, '');
    await logged(/1 worker ready/);
    assert.equal((await new Kept(sock).get('/healthz')).status, 200);
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
});

test('--health and --warmup take paths; anything else is one line and exit 2', async () => {
  for (const [flag, value] of [
    ['--health', 'healthz'],
    ['--warmup', '/a b'],
    ['--warmup', '/%zz'],
  ] as const) {
    const r = await runCli(['hello:application', flag, value]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^warpipe: ${flag} `));
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

describe('--warmup', () => {
  test('each worker answers GET PATH from 127.0.0.1 to the first listener, marked X-Warpipe-Warmup, before it serves', async () => {
    const srv = await startServer('probes:application', { args: ['--warmup', '/warm?x=1', '--workers', '1'] });
    try {
      const seen = (await (await fetch(`${srv.url}/last-warmup`)).json()) as Record<string, string>;
      assert.deepEqual(seen, {
        REQUEST_METHOD: 'GET',
        PATH_INFO: '/warm',
        QUERY_STRING: 'x=1',
        SERVER_NAME: '127.0.0.1',
        SERVER_PORT: String(srv.port),
        HTTP_HOST: `127.0.0.1:${srv.port}`,
        REMOTE_ADDR: '127.0.0.1',
        SERVER_PROTOCOL: 'HTTP/1.1',
        'wsgi.url_scheme': 'http',
      });
    } finally {
      await srv.stop();
    }
  });

  test('a 5xx at start is a failed boot: exit 3, the status and the body logged', async () => {
    const r = await runCli(['probes:application', '--http', '127.0.0.1:0', '--warmup', '/warm'], {
      env: { PROBES_WARM_STATUS: '500 Internal Server Error' },
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /warm-up GET \/warm answered 500 Internal Server Error:\nwarm-up body: 500 Internal Server Error/);
  });

  test('Flask: a reload whose new code breaks the view is rolled back; the old workers answer 200 throughout', async (t) => {
    if (!requirePeer(t, pythonHas('python3', 'flask'), 'python3 with Flask')) return;
    const dir = tempDir();
    // the view's module is imported on first use, as Django imports views: the app itself imports fine
    writeFileSync(
      join(dir, 'shop.py'),
      'from flask import Flask\napp = Flask(__name__)\n\n@app.route("/")\ndef index():\n    import views\n    return views.index()\n',
    );
    writeFileSync(join(dir, 'views.py'), 'def index():\n    return "v1"\n');
    const srv = await startServer('shop:app', { cwd: dir, args: ['--warmup', '/', '--metrics', '127.0.0.1:0'] });
    try {
      assert.equal(await (await fetch(srv.url)).text(), 'v1');
      writeFileSync(join(dir, 'views.py'), 'def index(:\n    return "v2"\n'); // a syntax error
      let stop = false;
      const answers: number[] = [];
      const client = (async () => {
        while (!stop) answers.push((await fetch(srv.url)).status);
      })();
      srv.proc.kill('SIGHUP');
      await srv.waitForLog(/reload failed, the old workers keep serving: worker \d+: warm-up GET \/ answered 500/);
      assert.equal(await (await fetch(srv.url)).text(), 'v1');
      stop = true;
      await client;
      assert.ok(answers.length > 0 && answers.every((s) => s === 200), `every answer 200: ${answers.join(',')}`);
      assert.match(srv.logs(), /SyntaxError/, 'the traceback is in the log');
      const where = /metrics on (http:\/\/[^\s]+)/.exec(srv.logs())![1]!;
      const metrics = await (await fetch(where)).text();
      assert.match(metrics, /^warpipe_reloads_failed_total 1$/m);
      assert.match(metrics, /^warpipe_worker_warmup_failures_total [12]$/m);
    } finally {
      await srv.stop();
    }
  });
});

describe('--pid-file', () => {
  test('written once bound, removed on exit; a second warpipe on it is refused; a stale one replaced', async () => {
    const pidFile = join(tempDir(), 'warpipe.pid');
    const srv = await startServer('hello:application', { args: ['--pid-file', pidFile] });
    assert.equal(readFileSync(pidFile, 'utf8'), `${srv.proc.pid}\n`);
    const second = await runCli(['hello:application', '--http', '127.0.0.1:0', '--pid-file', pidFile]);
    assert.equal(second.code, 1);
    const why =
      `warpipe: --pid-file ${pidFile}: warpipe is already running as pid ${srv.proc.pid} ` +
      '(stop it, or remove the file if that is wrong)';
    assert.equal(second.stderr.trimEnd().split('\n').at(-1), why);
    assert.equal(await srv.stop(), 0);
    assert.equal(existsSync(pidFile), false);
    // a pid that is not warpipe (this test runner) and one that is gone: stale
    for (const stale of [process.pid, spawnSync('true').pid!]) {
      writeFileSync(pidFile, `${stale}\n`);
      const again = await startServer('hello:application', { args: ['--pid-file', pidFile] });
      assert.equal(readFileSync(pidFile, 'utf8'), `${again.proc.pid}\n`);
      if (stale === process.pid) assert.match(again.logs(), /names pid \d+, which is not warpipe .*: replacing it/);
      await again.stop();
    }
  });
});

describe('keep-alive', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('probes:application', { args: ['--max-connections', '2', '--metrics', '127.0.0.1:0'] });
  });
  after(() => srv.stop());

  test('the default is 75 s, announced; at --max-connections an idle kept-alive connection makes room, else 503', async () => {
    const flag = join(tempDir(), 'release');
    const a = new Kept(srv.port);
    const first = await a.get('/');
    assert.match(first.head, /\r\nKeep-Alive: timeout=75(\r\n|$)/i);
    const b = new Kept(srv.port);
    await b.get('/');
    // both idle, a the longer (or as long, and older): a newcomer closes a and is served
    const c = new Kept(srv.port);
    assert.equal((await c.get('/')).status, 200);
    await a.closed;
    // b busy (its request holds a worker), c idle: d, which sends nothing yet, takes c's place
    const held = b.get(`/block?${flag}`);
    await srv.waitForLog(/probes: blocking until/);
    const d = new Kept(srv.port);
    await c.closed;
    // b busy, d reading a head: neither is idle, so e is refused
    const e = new Kept(srv.port);
    const refused = await e.get('/');
    assert.equal(refused.status, 503);
    writeFileSync(flag, '');
    assert.equal((await held).body, 'released');
    assert.equal((await d.get('/')).status, 200);
    const where = /metrics on (http:\/\/[^\s]+)/.exec(srv.logs())![1]!;
    assert.match(await (await fetch(where)).text(), /^warpipe_connections_reclaimed_total 2$/m);
    assert.match(srv.logs(), /--max-connections 2 reached: closing the kept-alive connections idle longest to make room/);
    for (const k of [b, d, e]) k.sock.destroy();
  });
});

test('the drain runs out: cut-off requests are counted in the log; the access log says 503 or the status sent, and $cut', async () => {
  const dir = tempDir();
  const access = join(dir, 'access.log');
  const flag = join(dir, 'never');
  const srv = await startServer('probes:application', {
    args: ['--graceful-timeout', '1', '--access-log', access, '--access-log-format', '$request_uri $status $cut'],
  });
  const blocked = fetch(`${srv.url}/block?${flag}`);
  await srv.waitForLog(/probes: blocking until/);
  const streaming = await fetch(`${srv.url}/stream?${flag}`);
  const reader = streaming.body!.getReader();
  assert.equal(Buffer.from((await reader.read()).value!).toString(), 'first part\n');
  const code = await srv.stop();
  assert.equal(code, 0);
  const answer = await blocked;
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get('retry-after'), '1');
  await assert.rejects(reader.read(), 'the streamed response is cut, not ended');
  const cutLine = /--graceful-timeout 1s ran out: cutting off 2 requests still in progress \((GET \/(block|stream)\?\S+(, )?){2}\)/;
  assert.match(srv.logs(), cutLine);
  assert.match(srv.logs(), /stopped, after cutting off 2 requests \(--graceful-timeout 1s\)/);
  const lines = readFileSync(access, 'utf8').trim().split('\n').sort();
  assert.deepEqual(lines, [`/block?${flag} 503 shutdown`, `/stream?${flag} 200 shutdown`]);
});
