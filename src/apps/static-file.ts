// What --static knows of one file, and how a path under its root is resolved to
// one (static-cache.ts keeps the result for its window). Resolution does every
// check of the root's rules, each time it runs: the path is stat()ed (a
// directory takes its index.html), must be a regular file, and unless symlinks
// may lead out, its real path must lie under the root's. The file is then opened
// by its real path and fstat()ed: if that is not the file the checks saw (it was
// swapped meanwhile), the resolution starts over. A small file's bytes are read
// there and then and its descriptor closed; a large one keeps its descriptor,
// shared by the responses that read it (`FileBody`).

import { fstat, open, read, readSync, realpath, stat, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { contentType } from 'mime-types';
import type { Headers } from '../pipeline/types.js';
import { SharedFd, type CachedFile, type Resolved, type Resolver } from './static-cache.js';

const statP = (path: string): Promise<Stats> => new Promise((ok, no) => stat(path, (e, s) => (e ? no(e) : ok(s))));
const fstatP = (fd: number): Promise<Stats> => new Promise((ok, no) => fstat(fd, (e, s) => (e ? no(e) : ok(s))));
const realpathP = (path: string): Promise<string> => new Promise((ok, no) => realpath(path, (e, p) => (e ? no(e) : ok(p))));
const openP = (path: string): Promise<number> => new Promise((ok, no) => open(path, 'r', (e, fd) => (e ? no(e) : ok(fd))));
const readP = (fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> =>
  new Promise((ok, no) => read(fd, buf, offset, length, position, (e, n) => (e ? no(e) : ok(n))));

/** Errors that say the path names nothing servable: cached as a 404 for the window. Others (EMFILE, EIO) are not cached. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM']);

/** How many times a file that was swapped while it was checked is resolved again before it is given up for now. */
const SWAP_TRIES = 3;

const freezeHeaders = (headers: Headers): Headers => Object.freeze(headers.map((h) => Object.freeze(h))) as Headers;

/** What a file's answers carry besides its own validators. */
export interface FileExtras {
  /** Its bytes are in this content coding (a FILE.br / FILE.gz beside FILE, or a copy compressed in memory). */
  readonly encoding?: string | null;
  /** Cache-Control of every answer (--static-max-age), or null. */
  readonly cacheControl?: string | null;
}

/** What a StaticFile keeps of the stat() that found it. */
export type FileStat = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

/** A file found under a root: its identity, validators, the headers of its answers, and its bytes or its descriptor. */
export class StaticFile implements CachedFile {
  readonly size: number;
  /** Last-Modified in whole seconds since the epoch (what If-Modified-Since compares). */
  readonly mtime: number;
  readonly mtimeMs: number;
  readonly etag: string;
  readonly lastModified: string;
  /** The 200 answer's headers: type, validators, Accept-Ranges, Content-Length. */
  readonly headers: Headers;
  /** The 304 answer's: validators and Accept-Ranges. */
  readonly notModified: Headers;
  readonly contentType: string;
  readonly bytes: number;
  /** A response has read it whole since it was opened: its pages are in the page cache (FileBody). */
  warm = false;
  /** Copies compressed in memory, by coding (static.ts; a small file only), those being made, and those that did not shrink. */
  readonly encoded = new Map<string, StaticFile | 'pending' | 'useless'>();
  private readonly st: FileStat;

  constructor(
    /** The path it was opened by (its real path unless symlinks may lead out). */
    readonly path: string,
    /** The name its type comes from: the last segment of the requested path (index.html for a directory). */
    readonly name: string,
    st: FileStat,
    /** The whole file, when it is small; null when it is read from `fd` per response. */
    readonly data: Buffer | null,
    readonly fd: SharedFd | null,
    readonly extras: FileExtras = {},
  ) {
    this.st = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
    this.mtimeMs = st.mtimeMs;
    this.size = data === null ? st.size : data.length;
    this.bytes = data === null ? 0 : data.length;
    this.mtime = Math.floor(st.mtimeMs / 1000);
    const encoding = extras.encoding ?? null;
    this.etag = `W/"${this.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}${encoding ? '-' + encoding : ''}"`;
    this.lastModified = new Date(this.mtime * 1000).toUTCString();
    this.contentType = contentType(name) || 'application/octet-stream';
    const validators: Headers = [
      ['ETag', this.etag],
      ['Last-Modified', this.lastModified],
      ['Accept-Ranges', 'bytes'],
    ];
    if (encoding) validators.push(['Vary', 'Accept-Encoding']);
    if (extras.cacheControl) validators.push(['Cache-Control', extras.cacheControl]);
    this.notModified = freezeHeaders(validators);
    this.headers = freezeHeaders([
      ['Content-Type', this.contentType],
      ...(encoding ? [['Content-Encoding', encoding] as [string, string]] : []),
      ...this.notModified,
      ['Content-Length', String(this.size)],
    ]);
  }

  /** This (small) file's bytes compressed in `encoding`: a file of its own, with its own length and ETag. */
  withEncoding(encoding: string, data: Buffer): StaticFile {
    return new StaticFile(this.path, this.name, this.st, data, null, { ...this.extras, encoding });
  }

  /** Whether `st`, found at `path`, is this very file, unchanged. */
  same(path: string, st: Stats): boolean {
    const mine = this.st;
    return (
      path === this.path &&
      st.ino === mine.ino &&
      st.dev === mine.dev &&
      st.size === this.size &&
      st.mtimeMs === mine.mtimeMs &&
      st.ctimeMs === mine.ctimeMs
    );
  }
}

export interface ResolverOptions {
  /** Serve files reached through symlinks that lead outside the root. */
  followSymlinks: boolean;
  /** Files up to this many bytes are held in memory; larger ones are read per response from a kept descriptor. */
  smallMax: number;
  /**
   * How long the root's own real path is trusted, in milliseconds (the cache's window): a root that is a
   * symlink switched to a new release is followed within it. Default 0: looked up at every resolution.
   */
  rootValidMs?: number;
  /** Cache-Control of every answer (--static-max-age), or null. */
  cacheControl?: string | null;
}

/** The file names of the precompressed copies served beside a file, by coding (nginx gzip_static, brotli_static). */
export const PRECOMPRESSED_SUFFIX: Readonly<Record<string, string>> = { br: '.br', zstd: '.zst', gzip: '.gz' };

/**
 * The cache key of a file's precompressed copy: the file's key, NUL, the coding (a NUL never occurs in a
 * path's key, so the copy and a file named like it never meet).
 */
export const variantKey = (key: string, coding: string): string => `${key}\0${coding}`;

const sameIdentity = (a: Stats, b: Stats): boolean =>
  a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

/**
 * Resolves cache keys under `root`. A key is a checked relative path: '/'
 * followed by segments without '', '.', '..', NUL or backslash, then '/' if the
 * request's path ended with one ('' and '/' are the root itself).
 */
export function staticResolver(root: string, options: ResolverOptions): Resolver<StaticFile> {
  let rootReal: Promise<string> | null = null;
  let rootAt = 0;

  async function find(base: string, wanted: string, previous: StaticFile | null): Promise<Resolved<StaticFile> | 'swapped'> {
    const nul = wanted.indexOf('\0');
    const key = nul < 0 ? wanted : wanted.slice(0, nul);
    const encoding = nul < 0 ? null : wanted.slice(nul + 1);
    const slash = key.endsWith('/');
    const rel = slash ? key.slice(1, -1) : key.slice(1);
    let path = rel === '' ? base : join(base, rel);
    let st = await statP(path);
    if (st.isDirectory()) {
      if (!slash) return 'directory';
      path = join(path, 'index.html');
      st = await statP(path);
    }
    if (!st.isFile()) return 'missing';
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (encoding !== null) {
      // the precompressed copy beside the file: served with the file's type
      path += PRECOMPRESSED_SUFFIX[encoding] ?? '.unknown';
      st = await statP(path);
      if (!st.isFile()) return 'missing';
    }
    let real = path;
    if (!options.followSymlinks) {
      real = await realpathP(path);
      if (real !== base && !real.startsWith(base + sep)) return 'missing';
    }
    if (previous?.same(real, st)) return previous;
    const extras = { encoding, cacheControl: options.cacheControl ?? null };
    const fd = await openP(real);
    let keep = false;
    try {
      const opened = await fstatP(fd);
      if (!sameIdentity(opened, st) || !opened.isFile()) return 'swapped';
      if (opened.size > options.smallMax) {
        keep = true;
        return new StaticFile(real, name, opened, null, new SharedFd(fd), extras);
      }
      return new StaticFile(real, name, opened, await readWhole(fd, opened.size), null, extras);
    } finally {
      if (!keep) new SharedFd(fd).release();
    }
  }

  return async (key, previous) => {
    let base: string;
    try {
      const now = performance.now();
      if (rootReal === null || now - rootAt >= (options.rootValidMs ?? 0)) {
        rootReal = realpathP(root);
        rootAt = now;
      }
      base = await rootReal;
    } catch {
      rootReal = null; // looked for again by the next request: the root may come back
      return 'unavailable';
    }
    for (let i = 0; i < SWAP_TRIES; i++) {
      try {
        const found = await find(base, key, previous);
        if (found !== 'swapped') return found;
      } catch (err) {
        return ABSENT.has((err as NodeJS.ErrnoException).code ?? '') ? 'missing' : 'unavailable';
      }
    }
    return 'unavailable';
  };
}

/** A small file's bytes, read from position 0 (fewer if it shrank meanwhile). */
async function readWhole(fd: number, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafeSlow(size);
  let got = 0;
  while (got < size) {
    const n = await readP(fd, buf, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return got === size ? buf : buf.subarray(0, got);
}

/** Buffers of one size that FileBodies read into, taken back once the socket let go of them. */
export class BlockPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    readonly size: number,
    /** Buffers kept for reuse at most (more are left to the garbage collector). */
    private readonly keep: number,
  ) {}

  get idle(): number {
    return this.free.length;
  }

  /** A buffer for a read of `n` bytes: one of the pool's, or for a read much smaller than a block one of its own size. */
  take(n: number): Buffer {
    if (n < this.size >> 2) return Buffer.allocUnsafeSlow(n); // (a short range of a large file: not worth a block)
    const ab = this.free.pop();
    return ab === undefined ? Buffer.allocUnsafeSlow(this.size) : Buffer.from(ab, 0, this.size);
  }

  /** A chunk read into one of ours (a view of its start, for a short read) comes back. */
  give(chunk: Uint8Array): void {
    const ab = chunk.buffer;
    if (chunk.byteOffset === 0 && ab.byteLength === this.size && this.free.length < this.keep && ab instanceof ArrayBuffer) {
      this.free.push(ab);
    }
  }
}

/** Warm files up to this size are read with blocking reads (see FileBody). */
const SYNC_MAX = 16 << 20;

/**
 * A response body read from a large file's shared descriptor, one pool block at
 * a time, with positioned reads (responses reading one descriptor never disturb
 * each other). The blocks go back to the pool once the socket let go of them
 * (RecyclingBody), so a response allocates nothing per block and reads into
 * memory that is still in the CPU's cache.
 *
 * The first response to read a file whole does it with reads on libuv's thread
 * pool, so that a file not in the page cache cannot stall the event loop; once it
 * has (`warm`), files up to SYNC_MAX are read with blocking reads, as nginx does
 * without aio: from the page cache a read is a copy, and a trip through the
 * thread pool per block cost 1.7x the CPU (measured, 1 MiB file).
 *
 * It holds the descriptor from creation to `close()` (or the end of its
 * iteration), and lets go only once no read of its own is in flight.
 */
export class FileBody implements AsyncIterator<Uint8Array>, AsyncIterable<Uint8Array> {
  private position: number;
  private left: number;
  private readonly entire: boolean;
  private reading = false;
  private closed = false;

  constructor(
    private readonly file: StaticFile & { fd: SharedFd },
    start: number,
    end: number,
    private readonly pool: BlockPool,
  ) {
    this.position = start;
    this.left = end - start + 1;
    this.entire = start === 0 && end === file.size - 1;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.closed || this.left <= 0) return this.done();
    const buf = this.pool.take(Math.min(this.pool.size, this.left));
    const n = Math.min(buf.length, this.left);
    if (this.file.warm && this.file.size <= SYNC_MAX) {
      let got: number;
      try {
        got = readSync(this.file.fd.fd, buf, 0, n, this.position);
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.resolve(this.got(buf, got));
    }
    this.reading = true;
    return new Promise((resolve, reject) => {
      read(this.file.fd.fd, buf, 0, n, this.position, (err, got) => {
        this.reading = false;
        if (this.closed) {
          this.file.fd.release(); // closed while the read was in flight: let go now
          return resolve({ done: true, value: undefined });
        }
        if (err) return reject(err);
        resolve(this.got(buf, got));
      });
    });
  }

  private got(buf: Buffer, got: number): IteratorResult<Uint8Array> {
    if (got === 0) {
      // the file shrank under us: end here; the response's Content-Length is then short and the connection is cut
      this.left = 0;
      this.close();
      return { done: true, value: undefined };
    }
    this.position += got;
    this.left -= got;
    if (this.left === 0 && this.entire) this.file.warm = true;
    return { done: false, value: got === buf.length ? buf : buf.subarray(0, got) };
  }

  private done(): Promise<IteratorResult<Uint8Array>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  recycle(chunk: Uint8Array): void {
    this.pool.give(chunk);
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return this.done();
  }

  /** PEP 3333 close(): let go of the descriptor (once a read in flight is done). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.reading) this.file.fd.release();
  }
}
