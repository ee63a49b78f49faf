// Resolving paths under a real temporary root (every check of --static's rules,
// and what is kept of a file), and FileBody reading a real file through a pool.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resolver, SharedFd } from './static-cache.js';
import { BlockPool, FileBody, StaticFile, staticResolver } from './static-file.js';

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

async function drain(body: FileBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c)); // copied: the block goes back to the pool below
  return Buffer.concat(parts);
}

const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

/** Descriptors are closed on the thread pool: wait (a bounded while) for it. */
async function closedSoon(fd: number): Promise<boolean> {
  for (let i = 0; i < 200 && isOpen(fd); i++) await new Promise((r) => setTimeout(r, 10));
  return !isOpen(fd);
}

describe('staticResolver', () => {
  let dir: string;
  let root: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warpipe-static-file-'));
    root = join(dir, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'small.txt'), 'small');
    writeFileSync(join(root, 'big.bin'), pattern(5000));
    writeFileSync(join(root, 'sub', 'index.html'), '<p>');
    writeFileSync(join(dir, 'secret.txt'), 'outside');
    symlinkSync(join(dir, 'secret.txt'), join(root, 'out.txt'));
    symlinkSync(join(root, 'small.txt'), join(root, 'in.txt'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const resolve: Resolver<StaticFile> = (key, previous) => staticResolver(root, { followSymlinks: false, smallMax: 1000 })(key, previous);

  test('a small file is read into memory, a large one keeps its descriptor', async () => {
    const small = await resolve('/small.txt', null);
    assert.ok(small instanceof StaticFile);
    assert.equal(small.data?.toString(), 'small');
    assert.equal(small.fd, null);
    assert.equal(small.contentType, 'text/plain; charset=utf-8');
    assert.deepEqual(small.headers.at(-1), ['Content-Length', '5']);
    const big = await resolve('/big.bin', null);
    assert.ok(big instanceof StaticFile);
    assert.equal(big.data, null);
    assert.ok(big.fd !== null && isOpen(big.fd.fd));
    assert.equal(big.size, 5000);
    big.fd.release();
    assert.ok(await closedSoon(big.fd.fd));
  });

  test('directories: the redirect without a slash, index.html with one; nothing else is a file', async () => {
    assert.equal(await resolve('/sub', null), 'directory');
    assert.equal(await resolve('', null), 'directory');
    const index = await resolve('/sub/', null);
    assert.ok(index instanceof StaticFile);
    assert.equal(index.contentType, 'text/html; charset=utf-8');
    assert.equal(await resolve('/', null), 'missing', 'no index.html at the root: no listing');
    assert.equal(await resolve('/nothing', null), 'missing');
    assert.equal(await resolve('/small.txt/x', null), 'missing');
  });

  test('symlinks: out of the root refused unless allowed; within it fine', async () => {
    assert.equal(await resolve('/out.txt', null), 'missing');
    const inside = await resolve('/in.txt', null);
    assert.ok(inside instanceof StaticFile);
    assert.equal(inside.path, join(root, 'small.txt'), 'opened by its real path');
    const follow = staticResolver(root, { followSymlinks: true, smallMax: 1000 });
    const out = await follow('/out.txt', null);
    assert.ok(out instanceof StaticFile);
    assert.equal(out.data?.toString(), 'outside');
  });

  test('an unchanged file is given back as it was; a changed or replaced one is found anew', async () => {
    const first = (await resolve('/big.bin', null)) as StaticFile;
    assert.equal(await resolve('/big.bin', first), first);
    const tmp = join(root, '.big.tmp');
    writeFileSync(tmp, pattern(6000));
    renameSync(tmp, join(root, 'big.bin'));
    const next = (await resolve('/big.bin', first)) as StaticFile;
    assert.notEqual(next, first);
    assert.equal(next.size, 6000);
    // a file replaced by a symlink out of the root is refused at its next resolution
    rmSync(join(root, 'small.txt'));
    symlinkSync(join(dir, 'secret.txt'), join(root, 'small.txt'));
    assert.equal(await resolve('/small.txt', null), 'missing');
    first.fd!.release();
    next.fd!.release();
  });

  test('a root that is gone is unavailable (not cached), and found again once it is back', async () => {
    const later = join(dir, 'later');
    const r = staticResolver(later, { followSymlinks: false, smallMax: 1000 });
    assert.equal(await r('/small.txt', null), 'unavailable');
    mkdirSync(later);
    writeFileSync(join(later, 'small.txt'), 'small');
    assert.ok((await r('/small.txt', null)) instanceof StaticFile);
  });
});

describe('FileBody', () => {
  let dir: string;
  let path: string;
  const bytes = pattern(10_000);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warpipe-file-body-'));
    path = join(dir, 'f.bin');
    writeFileSync(path, bytes);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const open = async (): Promise<StaticFile & { fd: SharedFd }> => {
    const r = await staticResolver(dir, { followSymlinks: false, smallMax: 0 })('/f.bin', null);
    assert.ok(r instanceof StaticFile && r.fd !== null);
    return r as StaticFile & { fd: SharedFd };
  };

  test('reads its range block by block, first on the thread pool, then (warm) with blocking reads', async () => {
    const file = await open();
    const pool = new BlockPool(4096, 4);
    file.fd.tryAcquire();
    assert.ok(!file.warm);
    assert.deepEqual(await drain(new FileBody(file, 0, 9999, pool)), bytes);
    assert.ok(file.warm, 'read whole once');
    file.fd.tryAcquire();
    assert.deepEqual(await drain(new FileBody(file, 1234, 8999, pool)), bytes.subarray(1234, 9000));
    file.fd.release(); // the cache's hold; the bodies let go of theirs at their end
    assert.ok(file.fd.isClosed);
  });

  test('blocks come back to the pool when recycled, and only its own', async () => {
    const file = await open();
    const pool = new BlockPool(4096, 2);
    const body = new FileBody(file, 0, 9999, pool);
    const a = (await body.next()).value as Uint8Array;
    const b = (await body.next()).value as Uint8Array;
    const c = (await body.next()).value as Uint8Array;
    assert.equal(c.length, 10_000 - 2 * 4096, 'the last block is a view of its start');
    body.recycle(a);
    body.recycle(c);
    body.recycle(b); // over the pool's keep: dropped
    body.recycle(Buffer.alloc(4096)); // not ours (a pooled slice of another size or a foreign buffer)
    assert.equal(pool.idle, 2);
    assert.equal((await body.next()).done, true);
    assert.ok(file.fd.isClosed, 'its end let go of the descriptor');
  });

  test('closed while a read is in flight: the descriptor is let go only when the read is done', async () => {
    const file = await open();
    const pool = new BlockPool(4096, 2);
    const body = new FileBody(file, 0, 9999, pool);
    const pending = body.next(); // not warm: on the thread pool
    body.close();
    assert.ok(!file.fd.isClosed, 'still reading');
    assert.equal((await pending).done, true);
    assert.ok(file.fd.isClosed);
  });
});
