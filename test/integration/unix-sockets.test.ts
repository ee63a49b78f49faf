// Issue 14: unix sockets that survive real operations. A second warpipe on a
// live socket (a listener, --control, --metrics; one gateway or several) is
// "address already in use", exit 1, and the first keeps serving; a stale
// socket (nothing accepts on it) is replaced; something that is not a socket
// is never removed (exit 2), nor is a missing directory taken for a permission
// problem (exit 2); and an instance that exits removes its socket only if the
// path still names the socket it made. --socket-owner gives the listeners'
// sockets to another user while --control stays the server's. Real CLI, real
// workers, real sockets.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer, runCli, startServer } from '../helpers/server.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warpipe-unix-'));
  chmodSync(dir, 0o755);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** GET `path` over HTTP on the unix socket at `sock`; the status line's code and the body. */
function getUnix(sock: string, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', reject);
    s.on('end', () => {
      const code = /^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? '?';
      resolve(`${code} ${got.slice(got.indexOf('\r\n\r\n') + 4)}`);
    });
    s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

/** What `stat` says of a path: dev:ino, or null when nothing is there. */
const identity = (path: string): string | null => {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}` : null;
};

/** A socket left by a process that died: bound, then closed without being unlinked (as after a SIGKILL). */
function staleSocket(path: string): void {
  const r = spawnSync('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)}); s.close()`]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(statSync(path).isSocket());
}

for (const gateways of [1, 2]) {
  describe(`a second warpipe on a live unix socket (--gateways ${gateways})`, () => {
    test('a listener: exit 1, address already in use; the first serves on, and removes its socket when it stops', async () => {
      const sock = join(dir, `http-${gateways}.sock`);
      const a = await startServer('hello', { args: ['--http', `unix:${sock}`, '--workers', '2', '--gateways', String(gateways)] });
      try {
        assert.equal(await getUnix(sock), '200 Hello, world!');
        const before = identity(sock);
        const b = await runCli(['hello', '--http', `unix:${sock}`, '--workers', String(gateways), '--gateways', String(gateways)]);
        assert.equal(b.code, 1, b.stderr);
        assert.match(
          b.stderr,
          new RegExp(`\\nwarpipe: cannot listen on ${sock}: address already in use \\(a running server accepts connections on it\\)\\n$`),
        );
        assert.equal(identity(sock), before, 'the socket is the same one');
        assert.equal(await getUnix(sock), '200 Hello, world!', 'the first still serves on it');
        assert.equal(statSync(sock).mode & 0o777, 0o660);
      } finally {
        assert.equal(await a.stop(), 0);
      }
      assert.equal(existsSync(sock), false, 'removed on exit');
      assert.deepEqual(
        spawnSync('ls', ['-A', dir], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter((f) => f.includes('.bind')),
        [],
        'no private name left behind',
      );
    });

    test('the control socket (`warpipe stop --control …` started a server named stop): exit 1; the first still answers', async () => {
      const control = join(dir, `control-${gateways}.sock`);
      const a = await startServer('hello', { args: ['--control', control, '--workers', '2', '--gateways', String(gateways)] });
      try {
        const b = await runCli(['hello', '--http', '127.0.0.1:0', '--control', control, '--workers', '1']);
        assert.equal(b.code, 1, b.stderr);
        assert.match(b.stderr, /cannot serve the control socket on .*: address already in use/);
        const status = await runCli(['status', '--control', control]);
        assert.equal(status.code, 0, status.stderr);
        assert.match(status.stdout, /^pool: 2 workers/);
      } finally {
        assert.equal(await a.stop(), 0);
      }
      assert.equal(existsSync(control), false);
    });
  });
}

test('--metrics on a live unix socket: exit 1', async () => {
  const metrics = join(dir, 'metrics.sock');
  const a = await startServer('hello', { args: ['--metrics', `unix:${metrics}`, '--workers', '1'] });
  try {
    const b = await runCli(['hello', '--http', '127.0.0.1:0', '--metrics', `unix:${metrics}`, '--workers', '1']);
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /cannot serve --metrics on .*metrics\.sock: address already in use/);
    const answer = await getUnix(metrics, '/metrics');
    assert.match(answer, /^200 [\s\S]*warpipe_info/);
  } finally {
    assert.equal(await a.stop(), 0);
  }
});

for (const gateways of [1, 2]) {
  test(`a stale socket (nothing accepts on it) is replaced (--gateways ${gateways})`, async () => {
    const sock = join(dir, `stale-${gateways}.sock`);
    staleSocket(sock);
    const a = await startServer('hello', { args: ['--fastcgi', `unix:${sock}`, '--workers', '2', '--gateways', String(gateways)] });
    try {
      // (not told by its inode number: tmpfs gives the freed one to the next socket) a stale socket refuses connections
      await new Promise<void>((resolve, reject) =>
        net
          .connect(sock, resolve)
          .on('error', reject)
          .on('connect', function (this: net.Socket) {
            this.destroy();
          }),
      );
    } finally {
      assert.equal(await a.stop(), 0);
    }
  });
}

test('something that is not a socket is never removed; a missing directory is said as missing: exit 2', async () => {
  const file = join(dir, 'precious.txt');
  writeFileSync(file, 'data');
  for (const args of [
    ['--fastcgi', `unix:${file}`],
    ['--http', '127.0.0.1:0', '--control', file],
  ]) {
    const r = await runCli(['hello', '--workers', '1', ...args]);
    assert.equal(r.code, 2, r.stderr);
    const why = `${file} is there and is not a socket \\(warpipe removes only stale sockets\\)`;
    assert.match(r.stderr, new RegExp(`^warpipe: --\\w+ (unix:)?${file}: ${why}\\n$`), 'one line, before the banner');
    assert.equal(readFileSync(file, 'utf8'), 'data');
  }
  const r2 = await runCli(['hello', '--workers', '2', '--gateways', '2', '--uwsgi', `unix:${file}`]);
  assert.equal(r2.code, 2, r2.stderr);
  assert.equal(readFileSync(file, 'utf8'), 'data');

  const missing = join(dir, 'no-such-dir');
  for (const args of [
    ['--http', `unix:${missing}/w.sock`],
    ['--http', '127.0.0.1:0', '--control', `${missing}/c.sock`],
  ]) {
    const r = await runCli(['hello', '--workers', '1', ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^warpipe: --\\w+ (unix:)?${missing}/\\w\\.sock: no such directory ${missing}\\n$`));
  }
});

test('an instance that exits leaves alone a socket another made at its path since (same inode or nothing)', async () => {
  const sock = join(dir, 'taken.sock');
  const a = await startServer('hello', { args: ['--http', `unix:${sock}`, '--workers', '1'] });
  // somebody removes A's socket by hand, and B starts on the path
  unlinkSync(sock);
  const b = await startServer('hello', { args: ['--http', `unix:${sock}`, '--workers', '1'] });
  try {
    const bs = identity(sock);
    assert.equal(await a.stop(), 0);
    assert.equal(identity(sock), bs, "A's exit did not delete B's socket");
    assert.equal(await getUnix(sock), '200 Hello, world!');
  } finally {
    assert.equal(await b.stop(), 0);
  }
  assert.equal(existsSync(sock), false);
});

describe('--socket-owner', () => {
  test("the listeners go to that owner, --control stays the server user's; with --gateways 2 too", async (t) => {
    if (!requirePeer(t, process.getuid!() === 0, 'root, to give sockets away')) return;
    for (const gateways of ['1', '2']) {
      const sub = mkdtempSync(join(dir, 'owner-'));
      chmodSync(sub, 0o755);
      const a = await startServer('hello', {
        args: [
          ...['--user', 'nobody', '--group', 'nogroup', '--socket-owner', 'www-data', '--workers', '2', '--gateways', gateways],
          ...['--fastcgi', `unix:${sub}/f.sock`, '--metrics', `unix:${sub}/m.sock`, '--control', `${sub}/c.sock`],
        ],
      });
      try {
        const owner = (p: string): string => {
          const st = statSync(p);
          return `${st.uid}:${st.gid} ${(st.mode & 0o777).toString(8)}`;
        };
        assert.equal(owner(`${sub}/f.sock`), '33:33 660', "the listener is www-data's");
        assert.equal(owner(`${sub}/m.sock`), '33:33 660', '--metrics too');
        assert.equal(owner(`${sub}/c.sock`), '65534:65534 600', "--control stays the server user's");
      } finally {
        assert.equal(await a.stop(), 0);
      }
    }
  });

  test('mistakes: one line, exit 2', async () => {
    const r = await runCli(['hello', '--socket-owner', 'no-such-user-here']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^warpipe: --socket-owner no-such-user-here: no such user\n$/);
    const g = await runCli(['hello', '--socket-owner', 'www-data:no-such-group-here']);
    assert.equal(g.code, 2);
    assert.match(g.stderr, /^warpipe: --socket-owner no-such-group-here: no such group\n$/);
    const empty = await runCli(['hello', '--socket-owner', ':']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^warpipe: --socket-owner ":": give USER, USER:GROUP or :GROUP\n$/);
  });
});
