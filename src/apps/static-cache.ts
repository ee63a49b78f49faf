// What --static found for each path, kept for a validity window, after nginx's
// open_file_cache: a file (its metadata, its precomputed headers, the bytes of a
// small one or the open descriptor of a large one), a directory, or nothing.
// Within the window a request costs a Map lookup; after it, the path is resolved
// again (stat, realpath: every check of the first time) before it is served, and
// a file that changed (inode, size, mtime, ctime) or went away is replaced or
// dropped. Concurrent requests for a path being resolved share one resolution.
//
// Bounded: found paths by count, bytes held and descriptors held (least
// recently used first out); paths found missing in a map of their own, so a
// client asking for random names cannot push the found ones out.
//
// Descriptors are shared between the cache and the responses reading them
// (`SharedFd`): an evicted or replaced file's descriptor is closed when the last
// response reading it lets go, never under a read.

import { close } from 'node:fs';

const closeQuietly = (fd: number): void => close(fd, () => {});

/**
 * An open descriptor with a count of its holders (the cache, each response
 * reading it); closed when the count drops to 0. Created held once, by its creator.
 */
export class SharedFd {
  private refs = 1;

  constructor(
    readonly fd: number,
    private readonly closeFd: (fd: number) => void = closeQuietly,
  ) {}

  get isClosed(): boolean {
    return this.refs === 0;
  }

  /** Hold it; false if it was already closed (the holder must look again). */
  tryAcquire(): boolean {
    if (this.refs === 0) return false;
    this.refs++;
    return true;
  }

  release(): void {
    if (this.refs === 0) return;
    if (--this.refs === 0) this.closeFd(this.fd);
  }
}

/** What the cache needs of a found file. */
export interface CachedFile {
  /** Its descriptor, for a file read from disk per response; null for one held in memory. */
  readonly fd: SharedFd | null;
  /** Memory it holds (its bytes, when small), charged against the cache's byte bound. */
  readonly bytes: number;
}

/**
 * What a path resolved to: a file; a directory (answered by a redirect to its
 * slash); nothing (404, cached); or nothing for now (404, not cached: an error
 * that may pass, such as too many open files).
 */
export type Resolved<F extends CachedFile> = F | 'directory' | 'missing' | 'unavailable';

export interface StaticCacheOptions {
  /** Milliseconds a resolution is trusted; 0: every request resolves its path afresh. */
  validMs: number;
  /** Found paths (files and directories) kept. */
  maxEntries: number;
  /** Bytes of small files kept in memory, in total. */
  maxBytes: number;
  /** Descriptors of large files kept open, in total. */
  maxFds: number;
  /** Paths found missing, kept. */
  maxMisses: number;
}

export const defaultCacheLimits = { maxEntries: 4096, maxBytes: 32 << 20, maxFds: 256, maxMisses: 1024 } as const;

interface Entry<F extends CachedFile> {
  value: Resolved<F>;
  /** When it was resolved (the clock's milliseconds). */
  checkedAt: number;
  /** When it last moved to the end of its map (StaticCache.moves). */
  moved: number;
}

/**
 * Resolves `key` afresh. `previous` is the file the cache held for it (null if
 * none): returning it as is says it did not change, and keeps its bytes or
 * descriptor. A new file is returned holding its descriptor once (the caller's).
 */
export type Resolver<F extends CachedFile> = (key: string, previous: F | null) => Promise<Resolved<F>>;

const isFile = <F extends CachedFile>(v: Resolved<F> | undefined): v is F => typeof v === 'object';

/** How many times a lookup tries again when the file it found was evicted and closed before it could hold it. */
const LEASE_TRIES = 3;

export class StaticCache<F extends CachedFile> {
  private readonly found = new Map<string, Entry<F>>();
  private readonly misses = new Map<string, Entry<F>>();
  private readonly pending = new Map<string, Promise<Resolved<F>>>();
  /** Bytes and descriptors the found entries hold. */
  bytes = 0;
  fds = 0;
  /** Found entries put at the end of their map so far: the map is in order of `moved`. */
  private moves = 0;

  constructor(
    private readonly options: StaticCacheOptions,
    private readonly resolve: Resolver<F>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Entries held: found paths and missing ones. */
  get size(): number {
    return this.found.size + this.misses.size;
  }

  /**
   * The path's resolution if it is held and still valid, else null (then ask
   * `lookup`). A file comes with its descriptor held for the caller: release it once.
   */
  fresh(key: string): Resolved<F> | null {
    const validMs = this.options.validMs;
    if (validMs === 0) return null;
    const hit = this.found.get(key);
    if (hit !== undefined) {
      if (this.now() - hit.checkedAt >= validMs) return null;
      // least recently used first out: a hit moves to the end, unless it is already in the newer half (fewer
      // than half the entries moved after it), where the next eviction cannot reach it: a hot path costs no move
      if (this.moves - hit.moved > this.found.size >> 1) {
        this.found.delete(key);
        this.found.set(key, hit);
        hit.moved = ++this.moves;
      }
      const value = hit.value;
      if (isFile(value)) value.fd?.tryAcquire(); // held by the cache, so never closed yet
      return value;
    }
    const miss = this.misses.get(key);
    if (miss === undefined || this.now() - miss.checkedAt >= validMs) return null;
    return miss.value;
  }

  /** The path's resolution, resolved afresh when not held or out of its window. A file comes held, as from `fresh`. */
  async lookup(key: string): Promise<Resolved<F>> {
    if (this.options.validMs === 0) return this.resolve(key, null); // its descriptor, held once, is the caller's
    for (let i = 0; i < LEASE_TRIES; i++) {
      const held = this.fresh(key); // (held for us already)
      if (held !== null) return held;
      const value = await this.shared(key);
      if (!isFile(value) || value.fd === null || value.fd.tryAcquire()) return value;
    }
    return this.resolve(key, null); // evicted each time before we could hold it: one of our own
  }

  /** One resolution per key at a time; its result stored. */
  private shared(key: string): Promise<Resolved<F>> {
    let p = this.pending.get(key);
    if (p === undefined) {
      p = this.refresh(key).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async refresh(key: string): Promise<Resolved<F>> {
    const held = this.found.get(key)?.value;
    const previous = isFile(held) ? held : null;
    // held while it is looked at, so that an eviction meanwhile cannot close it
    const kept = previous?.fd?.tryAcquire() ?? false;
    let value: Resolved<F>;
    try {
      value = await this.resolve(key, previous);
    } catch (err) {
      if (kept) previous!.fd!.release();
      throw err;
    }
    if (value !== previous) {
      if (kept) previous!.fd!.release(); // changed or gone: the entry's own hold goes when it is replaced below
    } else if (previous.fd !== null && !kept) {
      return this.resolve(key, null); // it was evicted and closed before we could hold it: resolve it anew
    }
    // the hold this result carries (a new file's from its creation, an unchanged one's taken above) goes to the entry
    this.store(key, value);
    return value;
  }

  private store(key: string, value: Resolved<F>): void {
    const entry = { value, checkedAt: this.now(), moved: ++this.moves };
    if (value === 'unavailable') return;
    if (value === 'missing') {
      this.drop(key);
      this.misses.delete(key);
      this.misses.set(key, entry);
      while (this.misses.size > this.options.maxMisses) this.misses.delete(this.misses.keys().next().value!);
      return;
    }
    this.misses.delete(key);
    const old = this.found.get(key);
    if (old !== undefined && old.value === value) {
      // unchanged and still held: the entry has its hold already
      if (isFile(value)) value.fd?.release();
      this.found.delete(key);
      this.found.set(key, entry);
      return;
    }
    this.drop(key);
    this.found.set(key, entry);
    if (isFile(value)) {
      this.bytes += value.bytes;
      if (value.fd !== null) this.fds++;
    }
    this.trim();
  }

  /** Out with the least recently used found paths until every bound holds. */
  private trim(): void {
    const o = this.options;
    while (this.found.size > o.maxEntries || this.bytes > o.maxBytes || this.fds > o.maxFds) {
      this.drop(this.found.keys().next().value!);
    }
  }

  /** Forget a found path, letting go of its descriptor. */
  private drop(key: string): void {
    const entry = this.found.get(key);
    if (entry === undefined) return;
    this.found.delete(key);
    const value = entry.value;
    if (isFile(value)) {
      this.bytes -= value.bytes;
      if (value.fd !== null) {
        this.fds--;
        value.fd.release();
      }
    }
  }

  /** Forget everything (descriptors close once no response reads them). */
  clear(): void {
    for (const key of [...this.found.keys()]) this.drop(key);
    this.misses.clear();
  }
}
