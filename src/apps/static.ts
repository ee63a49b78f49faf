// Static files as a pipeline App (--static PREFIX=DIR): GET and HEAD of the
// files under one root, with Content-Type, ETag and Last-Modified, conditional
// requests (304), single byte ranges (206/416), index.html for directories.
//
// It never serves outside its root: PATH_INFO arrives percent-decoded, so a
// `..` segment (sent as `..` or `%2e%2e`), a NUL or a backslash is refused
// outright, and the file's real path (symlinks resolved) must still lie under
// the root's real path unless `followSymlinks` allows it (uWSGI CVE-2018-7490
// was a traversal in exactly this feature). Those checks run when a path is
// resolved (static-file.ts); what they found is kept for `cacheValidMs`
// (static-cache.ts, nginx's open_file_cache), so a request within the window
// costs a Map lookup, and a file replaced by a symlink out of the root is
// refused at the next resolution, at most `cacheValidMs` later.
//
// A small file is answered from memory as a list of one Buffer: the listener
// writes head and body in one write, and the app answers synchronously. A large
// one is read from its kept descriptor in big blocks (FileBody).

import type { App, Body, Environ, Headers, StartResponse } from '../pipeline/types.js';
import { EncodingChooser } from '../pipeline/accept-encoding.js';
import type { Coding } from '../pipeline/codings.js';
import { compressible } from '../pipeline/compress.js';
import { defaultCacheLimits, type SharedFd, StaticCache, type Resolved, type StaticCacheOptions } from './static-cache.js';
import { BlockPool, FileBody, type StaticFile, staticResolver, variantKey } from './static-file.js';

export interface StaticOptions {
  /** Serve files reached through symlinks that point outside the root. */
  followSymlinks: boolean;
  /** How long what a path resolved to is trusted, in milliseconds (0: resolved on every request). Default 2000. */
  cacheValidMs?: number;
  /** Files up to this size are held in memory. */
  smallMax?: number;
  /** Bytes read per block from a large file. */
  block?: number;
  /** The cache's bounds (defaults: static-cache.ts). */
  limits?: Partial<Omit<StaticCacheOptions, 'validMs'>>;
  /** Cache-Control: public, max-age=N on every file's answers (0 or absent: none). */
  maxAge?: number;
  /**
   * The codings offered (--compress): a client that accepts one gets FILE.br, FILE.zst or FILE.gz when it lies
   * beside FILE and is not older; else a small file's copy compressed once and kept in memory.
   */
  codings?: readonly Coding[];
  /** Files smaller than this are not compressed in memory (--compress-min-size). Default 1024. */
  minSize?: number;
}

export const DEFAULT_CACHE_VALID_MS = 2000;
/**
 * Files up to this size are answered from memory. Gateway CPU per request, from memory vs read from the
 * kept descriptor (Node 24, 20 connections): 16 KiB 23 vs 33-40 us, 64 KiB 30-34 vs 38-43, 256 KiB 85-108
 * vs 134-179. Memory is cheaper at every size; the bound is what the cache may hold (docs/performance.md).
 */
const SMALL_MAX = 64 * 1024;
/** Bytes per read of a large file: 1 MiB file, gateway CPU per request 256 KiB 440-560 us, 512 KiB 340-400, 1 MiB 335-415. */
const BLOCK = 512 * 1024;
/** Blocks kept for reuse per --static directory (4 MiB). */
const POOL_KEEP = 8;

const text = (body: string): [Headers, Buffer[]] => {
  const bytes = Buffer.from(body, 'latin1');
  return [
    Object.freeze([
      Object.freeze(['Content-Type', 'text/plain; charset=utf-8']),
      Object.freeze(['Content-Length', String(bytes.length)]),
    ]) as Headers,
    [bytes],
  ];
};
const [NOT_FOUND_HEADERS, NOT_FOUND] = text('Not Found\n');
const [MOVED_HEADERS, MOVED] = text('Moved Permanently\n');
const [NOT_ALLOWED_HEADERS, NOT_ALLOWED] = text('Method Not Allowed\n');
const [UNSATISFIABLE_HEADERS, UNSATISFIABLE] = text('Range Not Satisfiable\n');

/** A segment that is empty, `.` or `..`, a NUL or a backslash: PATH_INFO is not a cache key as it stands. */
const UNUSUAL = /\/\.{0,2}(?:\/|$)|[\0\\]/;

/**
 * The cache key for PATH_INFO: '/' and its segments, none empty, `.` or `..`,
 * then '/' if it ended with one; null if it may not be served (`..`, NUL, backslash).
 */
export function cacheKey(pathInfo: string): string | null {
  if (pathInfo.charCodeAt(0) === 47 && !UNUSUAL.test(pathInfo)) return pathInfo; // the common case, as it stands
  if (pathInfo.includes('\0') || pathInfo.includes('\\')) return null;
  const segments = pathInfo.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) return null;
  return (segments.length === 0 ? '' : '/' + segments.join('/')) + (pathInfo.endsWith('/') ? '/' : '');
}

/** RFC 9110 §14.1.2: one `bytes=first-last` or `bytes=-suffix` range; null for none or a set we do not split. */
function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignore the header
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** RFC 9110 §13.1.2 / §13.1.3: If-None-Match wins over If-Modified-Since. */
function notModified(environ: Environ, file: StaticFile): boolean {
  const inm = environ.HTTP_IF_NONE_MATCH;
  if (inm !== undefined) {
    const tag = file.etag.slice(2);
    return String(inm)
      .split(',')
      .some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === tag);
  }
  const ims = environ.HTTP_IF_MODIFIED_SINCE;
  if (ims === undefined) return false;
  const since = Date.parse(String(ims));
  return !Number.isNaN(since) && file.mtime <= since / 1000;
}

/**
 * @example compose(app, ...) — or mount it: router([['/static', staticFiles('/srv/public')]], app)
 */
export function staticFiles(root: string, options: StaticOptions = { followSymlinks: false }): App {
  const smallMax = options.smallMax ?? SMALL_MAX;
  const pool = new BlockPool(options.block ?? BLOCK, POOL_KEEP);
  const validMs = options.cacheValidMs ?? DEFAULT_CACHE_VALID_MS;
  const cache = new StaticCache<StaticFile>(
    { validMs, ...defaultCacheLimits, ...options.limits },
    staticResolver(root, {
      followSymlinks: options.followSymlinks,
      smallMax,
      rootValidMs: validMs,
      cacheControl: options.maxAge ? `public, max-age=${Math.floor(options.maxAge)}` : null,
    }),
  );
  const chooseCopy = copies(cache, options.codings ?? [], options.minSize ?? 1024);

  /** The answer for what the path resolved to; a file's descriptor hold is handed to its body, or let go. */
  function respond(found: Resolved<StaticFile>, environ: Environ, startResponse: StartResponse): Body {
    if (typeof found !== 'object') {
      if (found !== 'directory') {
        startResponse('404 Not Found', NOT_FOUND_HEADERS);
        return NOT_FOUND;
      }
      const location = `${String(environ.SCRIPT_NAME ?? '')}${String(environ.PATH_INFO)}/`;
      startResponse('301 Moved Permanently', [...MOVED_HEADERS, ['Location', location]]);
      return MOVED;
    }
    let body: Body | null = null;
    try {
      body = answerFile(found, environ, startResponse);
      return body;
    } finally {
      if (!(body instanceof FileBody)) found.fd?.release();
    }
  }

  function answerFile(file: StaticFile, environ: Environ, startResponse: StartResponse): Body {
    const head = environ.REQUEST_METHOD === 'HEAD';
    if (environ.HTTP_IF_NONE_MATCH === undefined && environ.HTTP_IF_MODIFIED_SINCE === undefined && environ.HTTP_RANGE === undefined) {
      startResponse('200 OK', file.headers);
      return head || file.size === 0 ? [] : bodyOf(file, 0, file.size - 1);
    }
    if (notModified(environ, file)) {
      startResponse('304 Not Modified', file.notModified);
      return [];
    }
    const size = file.size;
    const range = environ.HTTP_RANGE === undefined ? null : parseRange(String(environ.HTTP_RANGE), size);
    const ifRange = environ.HTTP_IF_RANGE;
    if (range === null || (ifRange !== undefined && ifRange !== file.etag && ifRange !== file.lastModified)) {
      startResponse('200 OK', file.headers);
      return head || size === 0 ? [] : bodyOf(file, 0, size - 1);
    }
    if (range === 'unsatisfiable') {
      startResponse('416 Range Not Satisfiable', [...UNSATISFIABLE_HEADERS, ['Content-Range', `bytes */${size}`]]);
      return UNSATISFIABLE;
    }
    const { start, end } = range;
    const headers: Headers = [
      ...file.headers.slice(0, -1),
      ['Content-Range', `bytes ${start}-${end}/${size}`],
      ['Content-Length', String(end - start + 1)],
    ];
    startResponse('206 Partial Content', headers);
    return head ? [] : bodyOf(file, start, end);
  }

  function bodyOf(file: StaticFile, start: number, end: number): Body {
    if (file.data !== null) return [start === 0 && end === file.size - 1 ? file.data : file.data.subarray(start, end + 1)];
    return new FileBody(file as StaticFile & { fd: SharedFd }, start, end, pool);
  }

  return (environ: Environ, startResponse: StartResponse): Body | Promise<Body> => {
    const method = environ.REQUEST_METHOD;
    if (method !== 'GET' && method !== 'HEAD') {
      startResponse('405 Method Not Allowed', [...NOT_ALLOWED_HEADERS, ['Allow', 'GET, HEAD']]);
      return NOT_ALLOWED;
    }
    const key = cacheKey(String(environ.PATH_INFO ?? ''));
    if (key === null) {
      startResponse('404 Not Found', NOT_FOUND_HEADERS);
      return NOT_FOUND;
    }
    const found = cache.fresh(key);
    if (found !== null) return choose(key, found, environ, startResponse);
    return cache.lookup(key).then((r) => choose(key, r, environ, startResponse));
  };

  /** What the path resolved to, or its compressed copy when the client accepts one. */
  function choose(key: string, found: Resolved<StaticFile>, environ: Environ, startResponse: StartResponse): Body | Promise<Body> {
    const accept = environ.HTTP_ACCEPT_ENCODING;
    if (accept === undefined || typeof found !== 'object') return respond(found, environ, startResponse);
    const file = chooseCopy(key, found, String(accept));
    if (!(file instanceof Promise)) return respond(file, environ, startResponse);
    return file.then(
      (f) => respond(f, environ, startResponse),
      (err: unknown) => {
        found.fd?.release();
        throw err;
      },
    );
  }
}

/**
 * For --compress: picks, for a file and a request's Accept-Encoding, the file or the copy of it in the best
 * coding the client accepts: FILE.br / .zst / .gz beside it (not older), else a small compressible file's copy
 * compressed in memory (made on the thread pool the first time it is asked for; until it is ready, the file
 * as it is, which --compress compresses on the fly). The file's descriptor hold passes to the one returned.
 */
function copies(
  cache: StaticCache<StaticFile>,
  codings: readonly Coding[],
  minSize: number,
): (key: string, file: StaticFile, accept: string) => StaticFile | Promise<StaticFile> {
  const chooser = new EncodingChooser(codings.map((c) => c.name));

  function encoded(key: string, file: StaticFile, ranked: readonly string[], from: number): StaticFile | Promise<StaticFile> {
    for (let i = from; i < ranked.length; i++) {
      const name = ranked[i]!;
      const copy = cache.fresh(variantKey(key, name));
      if (copy === null) return cache.lookup(variantKey(key, name)).then((r) => (usable(r, file) ? r : encoded(key, file, ranked, i + 1)));
      if (usable(copy, file)) return copy;
    }
    return inMemory(file, ranked[0]!);
  }

  /** A precompressed copy found is used in place of `file` (whose hold it lets go), or let go of itself. */
  function usable(copy: Resolved<StaticFile>, file: StaticFile): copy is StaticFile {
    if (typeof copy !== 'object') return false;
    if (copy.mtimeMs >= file.mtimeMs) {
      file.fd?.release();
      return true;
    }
    copy.fd?.release(); // older than the file: stale
    return false;
  }

  function inMemory(file: StaticFile, name: string): StaticFile {
    if (file.data === null || file.size < minSize || !compressible(file.contentType)) return file;
    const copy = file.encoded.get(name);
    if (typeof copy === 'object') return copy;
    if (copy === undefined) {
      const coding = codings.find((c) => c.name === name)!;
      file.encoded.set(name, 'pending');
      const data = file.data;
      coding.compress(data).then(
        (out) => file.encoded.set(name, out.length < data.length ? file.withEncoding(name, out) : 'useless'),
        // (short of memory only; the file is then sent as it is, compressed on the fly)
        () => file.encoded.set(name, 'useless'),
      );
    }
    return file;
  }

  return (key, file, accept) => {
    const ranked = codings.length === 0 ? [] : chooser.rank(accept);
    return ranked.length === 0 ? file : encoded(key, file, ranked, 0);
  };
}
