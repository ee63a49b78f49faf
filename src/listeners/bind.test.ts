// bind.ts with real unix sockets: what a path is claimed over (live, stale,
// not a socket, no directory), a bound socket published with its mode, and
// removal on exit only of the socket this process made.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigCheckError } from '../errors.js';
import { bind, claimSocketPath, privateName, removeOwnSockets } from './bind.js';

const dir = mkdtempSync(join(tmpdir(), 'warpipe-bind-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const id = (path: string): string => {
  const st = statSync(path);
  return `${st.dev}:${st.ino}`;
};

const close = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

test('claimSocketPath: a free path, a live socket, a stale one, a file, no directory', async (t) => {
  await claimSocketPath(join(dir, 'free.sock'));

  const live = join(dir, 'live.sock');
  const server = net.createServer((s) => s.destroy());
  t.after(() => server.close());
  await new Promise<void>((resolve) => server.listen(live, resolve));
  await assert.rejects(claimSocketPath(live), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'EADDRINUSE');
    assert.equal(err.message, 'address already in use (a running server accepts connections on it)');
    return true;
  });
  assert.ok(statSync(live).isSocket(), 'a live socket is left where it is');
  await close(server);

  const stale = join(dir, 'stale.sock');
  const made = spawnSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`]);
  assert.equal(made.status, 0);
  await claimSocketPath(stale);
  assert.equal(existsSync(stale), false, 'a socket nothing accepts on is removed');

  const file = join(dir, 'file');
  writeFileSync(file, 'keep me');
  await assert.rejects(claimSocketPath(file), (err) => err instanceof ConfigCheckError && /is there and is not a socket/.test(err.message));
  assert.equal(readFileSync(file, 'utf8'), 'keep me');

  await assert.rejects(
    claimSocketPath(join(dir, 'missing', 'x.sock')),
    (err) => err instanceof ConfigCheckError && err.message === `no such directory ${join(dir, 'missing')}`,
  );
  await assert.rejects(
    claimSocketPath(join(file, 'x.sock')),
    (err) => err instanceof ConfigCheckError && err.message === `${file} is not a directory`,
  );
});

test('bind: the socket appears at its path with its mode, no private name left; on exit it is removed only if still ours', async (t) => {
  const path = join(dir, 'bound.sock');
  const server = net.createServer((s) => s.destroy());
  t.after(() => server.close());
  assert.equal(await bind(server, { kind: 'unix', path }, 0o640, () => {}), `unix:${path}`);
  assert.equal(statSync(path).mode & 0o777, 0o640);
  assert.equal(existsSync(privateName(path, process.pid)), false);
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(path, () => {
      c.destroy();
      resolve();
    });
    c.on('error', reject);
  });

  // a second bind on the live path: address in use, and the first one's socket untouched
  const before = id(path);
  const second = net.createServer();
  await assert.rejects(
    bind(second, { kind: 'unix', path }, 0o640, () => {}),
    { code: 'EADDRINUSE' },
  );
  assert.equal(id(path), before);

  // the server closes: libuv unlinks the name it bound, the private one, so the path stays until exit
  await close(server);
  assert.ok(existsSync(path));

  // someone else's socket at the path now (ours moved aside, so its inode number cannot be reused): our exit leaves it alone
  renameSync(path, join(dir, 'moved.sock'));
  const other = join(dir, 'other.sock');
  const theirs = net.createServer();
  t.after(() => theirs.close());
  await new Promise<void>((resolve) => theirs.listen(other, resolve));
  linkSync(other, path);
  removeOwnSockets();
  assert.ok(existsSync(path), "another's socket is not removed");
  await close(theirs);
  unlinkSync(path);

  // and our own is
  const mine = net.createServer();
  const again = join(dir, 'again.sock');
  await bind(mine, { kind: 'unix', path: again }, 0o600, () => {});
  removeOwnSockets();
  assert.equal(existsSync(again), false);
  await close(mine);
});
