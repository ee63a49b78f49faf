// The --static cache with a fake clock, a resolver the test scripts, and
// descriptors whose closing is counted: the window, re-resolution, the bounds
// (entries, bytes, descriptors, misses), and that a descriptor closes once, when
// neither the cache nor any response holds it.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type CachedFile, type Resolved, SharedFd, StaticCache, type StaticCacheOptions } from './static-cache.js';

class FakeFile implements CachedFile {
  constructor(
    readonly name: string,
    readonly bytes: number,
    readonly fd: SharedFd | null,
  ) {}
}

interface Harness {
  cache: StaticCache<FakeFile>;
  /** What the resolver answers per key (a function: called with the previous file). */
  disk: Map<string, (previous: FakeFile | null) => Resolved<FakeFile>>;
  /** Keys resolved, in order. */
  resolved: string[];
  /** Descriptor numbers closed, in order. */
  closed: number[];
  advance(ms: number): void;
  /** A file on the fake disk: small (bytes) or large (a descriptor). */
  file(key: string, opts?: { bytes?: number; fd?: boolean }): void;
}

function harness(options: Partial<StaticCacheOptions> = {}): Harness {
  let t = 1000;
  let nextFd = 100;
  const closed: number[] = [];
  const resolved: string[] = [];
  const disk = new Map<string, (previous: FakeFile | null) => Resolved<FakeFile>>();
  const cache = new StaticCache<FakeFile>(
    { validMs: 1000, maxEntries: 100, maxBytes: 1 << 20, maxFds: 100, maxMisses: 100, ...options },
    async (key, previous) => {
      resolved.push(key);
      await Promise.resolve();
      return disk.get(key)?.(previous) ?? 'missing';
    },
    () => t,
  );
  return {
    cache,
    disk,
    resolved,
    closed,
    advance: (ms) => void (t += ms),
    file(key, { bytes = 10, fd = false } = {}) {
      // unchanged: the resolver gives back what the cache held, as the real one does
      disk.set(key, (previous) => previous ?? new FakeFile(key, fd ? 0 : bytes, fd ? new SharedFd(nextFd++, (n) => closed.push(n)) : null));
    },
  };
}

/** Look up and let go at once, as a response that read nothing would. */
async function touch(h: Harness, key: string): Promise<Resolved<FakeFile>> {
  const v = await h.cache.lookup(key);
  if (typeof v === 'object') v.fd?.release();
  return v;
}

describe('StaticCache', () => {
  test('within the window a path is resolved once; after it, again, and an unchanged file is kept as it was', async () => {
    const h = harness();
    h.file('/a');
    const first = await touch(h, '/a');
    assert.equal(h.cache.fresh('/a'), first);
    h.advance(999);
    assert.equal(await touch(h, '/a'), first);
    assert.deepEqual(h.resolved, ['/a']);
    h.advance(1);
    assert.equal(h.cache.fresh('/a'), null, 'out of its window');
    assert.equal(await touch(h, '/a'), first, 'the resolver said unchanged');
    assert.deepEqual(h.resolved, ['/a', '/a']);
    assert.equal(h.cache.fresh('/a'), first, 'a new window');
  });

  test('a changed file replaces the old one, whose descriptor closes once the last response reading it lets go', async () => {
    const h = harness();
    h.file('/big', { fd: true });
    const old = (await h.cache.lookup('/big')) as FakeFile; // a response holds it
    h.advance(1000);
    h.disk.set('/big', () => new FakeFile('/big', 0, new SharedFd(200, (n) => h.closed.push(n))));
    const now = (await touch(h, '/big')) as FakeFile;
    assert.notEqual(now, old);
    assert.deepEqual(h.closed, [], 'the response still reads the old one');
    old.fd!.release();
    assert.deepEqual(h.closed, [100]);
    assert.equal(h.cache.fds, 1);
  });

  test('a file deleted is a 404 after the window, and its descriptor closes', async () => {
    const h = harness();
    h.file('/big', { fd: true });
    await touch(h, '/big');
    h.disk.delete('/big');
    assert.equal(typeof (await touch(h, '/big')), 'object', 'within the window: still the file');
    h.advance(1000);
    assert.equal(await touch(h, '/big'), 'missing');
    assert.deepEqual(h.closed, [100]);
    assert.equal(h.cache.fds, 0);
    assert.equal(h.cache.fresh('/big'), 'missing', 'the 404 is kept for the window too');
    h.file('/big', { fd: true });
    assert.equal(await touch(h, '/big'), 'missing', 'a file that appears is seen after the window');
    h.advance(1000);
    assert.equal(typeof (await touch(h, '/big')), 'object');
  });

  test('bounded in entries: the least recently used goes first', async () => {
    const h = harness({ maxEntries: 3 });
    for (const k of ['/1', '/2', '/3']) h.file(k);
    for (const k of ['/1', '/2', '/3']) await touch(h, k);
    await touch(h, '/1'); // now /2 is the oldest
    h.file('/4');
    await touch(h, '/4');
    assert.equal(h.cache.size, 3);
    assert.equal(h.cache.fresh('/2'), null);
    for (const k of ['/1', '/3', '/4']) assert.notEqual(h.cache.fresh(k), null, k);
  });

  test('bounded in bytes held and in descriptors held', async () => {
    const h = harness({ maxBytes: 25, maxFds: 2 });
    h.file('/a', { bytes: 10 });
    h.file('/b', { bytes: 10 });
    h.file('/c', { bytes: 10 });
    for (const k of ['/a', '/b', '/c']) await touch(h, k);
    assert.equal(h.cache.bytes, 20);
    assert.equal(h.cache.fresh('/a'), null, 'out: 30 bytes would be over 25');
    for (const k of ['/x', '/y', '/z']) h.file(k, { fd: true });
    const x = (await h.cache.lookup('/x')) as FakeFile; // a response reads /x
    await touch(h, '/y');
    await touch(h, '/z');
    assert.equal(h.cache.fds, 2);
    assert.equal(h.cache.fresh('/x'), null, '/x evicted');
    assert.deepEqual(h.closed, [], 'but still read');
    assert.ok(!x.fd!.isClosed);
    x.fd!.release();
    assert.deepEqual(h.closed, [100]);
  });

  test('paths found missing have their own bound: many of them do not push out the files', async () => {
    const h = harness({ maxEntries: 2, maxMisses: 3 });
    h.file('/a');
    await touch(h, '/a');
    for (let i = 0; i < 10; i++) await touch(h, `/nothing-${i}`);
    assert.notEqual(h.cache.fresh('/a'), null);
    assert.equal(h.cache.size, 1 + 3);
  });

  test('concurrent lookups of one path share one resolution; each gets its own hold on the descriptor', async () => {
    const h = harness();
    h.file('/big', { fd: true });
    const all = await Promise.all([h.cache.lookup('/big'), h.cache.lookup('/big'), h.cache.lookup('/big')]);
    assert.deepEqual(h.resolved, ['/big']);
    assert.ok(all.every((f) => f === all[0]));
    h.cache.clear();
    for (const f of all) {
      assert.deepEqual(h.closed, []);
      (f as FakeFile).fd!.release();
    }
    assert.deepEqual(h.closed, [100], 'closed once, after the cache and the three holders let go');
  });

  test('errors that may pass (unavailable) are not kept', async () => {
    const h = harness();
    h.disk.set('/flaky', () => 'unavailable');
    assert.equal(await touch(h, '/flaky'), 'unavailable');
    assert.equal(h.cache.fresh('/flaky'), null);
    assert.equal(h.cache.size, 0);
  });

  test("a window of 0 keeps nothing: every lookup resolves, and its descriptor is the caller's alone", async () => {
    const h = harness({ validMs: 0 });
    h.file('/big', { fd: true });
    h.disk.set('/big', () => new FakeFile('/big', 0, new SharedFd(300, (n) => h.closed.push(n))));
    const f = (await h.cache.lookup('/big')) as FakeFile;
    await touch(h, '/big');
    assert.deepEqual(h.resolved, ['/big', '/big']);
    assert.equal(h.cache.size, 0);
    assert.deepEqual(h.closed, [300]);
    f.fd!.release();
    assert.deepEqual(h.closed, [300, 300]);
  });

  test('clear() closes every descriptor nobody reads', async () => {
    const h = harness();
    h.file('/a', { fd: true });
    h.file('/b', { fd: true });
    await touch(h, '/a');
    await touch(h, '/b');
    h.cache.clear();
    assert.deepEqual(h.closed.sort(), [100, 101]);
    assert.equal(h.cache.size, 0);
    assert.equal(h.cache.fds, 0);
  });
});

describe('SharedFd', () => {
  test('closes when its last holder lets go, once; cannot be held again after', () => {
    const closed: number[] = [];
    const fd = new SharedFd(7, (n) => closed.push(n));
    assert.ok(fd.tryAcquire());
    fd.release();
    assert.deepEqual(closed, []);
    fd.release();
    assert.deepEqual(closed, [7]);
    assert.ok(!fd.tryAcquire());
    fd.release();
    assert.deepEqual(closed, [7]);
  });
});
