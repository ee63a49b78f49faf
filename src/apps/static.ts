// Static files as a pipeline App (--static PREFIX=DIR): GET and HEAD of the
// files under one root, with Content-Type, ETag and Last-Modified, conditional
// requests (304), single byte ranges (206/416), index.html for directories.
//
// It never serves outside its root: PATH_INFO arrives percent-decoded, so a
// `..` segment (sent as `..` or `%2e%2e`), a NUL or a backslash is refused
// outright, and the file's real path (symlinks resolved) must still lie under
// the root's real path unless `followSymlinks` allows it (uWSGI CVE-2018-7490
// was a traversal in exactly this feature).

import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { contentType } from 'mime-types';
import type { App, Body, Environ, Headers, StartResponse } from '../pipeline/types.js';
import { plainText } from '../pipeline/response.js';

export interface StaticOptions {
  /** Serve files reached through symlinks that point outside the root. */
  followSymlinks: boolean;
}

const NOT_FOUND = 'Not Found\n';

/** The relative path for PATH_INFO, or null if it may not be served. */
function safeRelative(pathInfo: string): string | null {
  if (pathInfo.includes('\0') || pathInfo.includes('\\')) return null;
  const segments = pathInfo.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) return null;
  return segments.join('/');
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

/**
 * @example compose(app, ...) — or mount it: router([['/static', staticFiles('/srv/public')]], app)
 */
export function staticFiles(root: string, options: StaticOptions = { followSymlinks: false }): App {
  let rootReal: Promise<string> | null = null;
  return async (environ: Environ, startResponse: StartResponse): Promise<Body> => {
    const method = environ.REQUEST_METHOD;
    if (method !== 'GET' && method !== 'HEAD') {
      return plainText(startResponse, '405 Method Not Allowed', 'Method Not Allowed\n', [['Allow', 'GET, HEAD']]);
    }
    const rel = safeRelative(String(environ.PATH_INFO ?? ''));
    if (rel === null) return plainText(startResponse, '404 Not Found', NOT_FOUND);
    rootReal ??= realpath(root);
    const base = await rootReal;
    let path = join(base, rel);
    let st;
    try {
      st = await stat(path);
      if (st.isDirectory()) {
        if (!String(environ.PATH_INFO).endsWith('/')) {
          const location = `${String(environ.SCRIPT_NAME ?? '')}${String(environ.PATH_INFO)}/`;
          return plainText(startResponse, '301 Moved Permanently', 'Moved Permanently\n', [['Location', location]]);
        }
        path = join(path, 'index.html');
        st = await stat(path);
      }
      if (!st.isFile()) return plainText(startResponse, '404 Not Found', NOT_FOUND);
      if (!options.followSymlinks) {
        const real = await realpath(path);
        if (real !== base && !real.startsWith(base + sep)) return plainText(startResponse, '404 Not Found', NOT_FOUND);
      }
    } catch {
      return plainText(startResponse, '404 Not Found', NOT_FOUND);
    }

    const size = st.size;
    const mtime = Math.floor(st.mtimeMs / 1000);
    const etag = `W/"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const lastModified = new Date(mtime * 1000).toUTCString();
    const headers: Headers = [
      ['Content-Type', contentType(path.slice(path.lastIndexOf('/') + 1)) || 'application/octet-stream'],
      ['ETag', etag],
      ['Last-Modified', lastModified],
      ['Accept-Ranges', 'bytes'],
    ];
    // RFC 9110 §13.1.2 / §13.1.3: If-None-Match wins over If-Modified-Since
    const inm = environ.HTTP_IF_NONE_MATCH;
    const ims = environ.HTTP_IF_MODIFIED_SINCE;
    const notModified =
      inm !== undefined
        ? String(inm)
            .split(',')
            .some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === etag.slice(2))
        : ims !== undefined && !Number.isNaN(Date.parse(String(ims))) && mtime <= Date.parse(String(ims)) / 1000;
    if (notModified) {
      startResponse('304 Not Modified', headers.slice(1));
      return [];
    }
    let start = 0;
    let end = size - 1;
    let status = '200 OK';
    const range = environ.HTTP_RANGE === undefined ? null : parseRange(String(environ.HTTP_RANGE), size);
    const ifRange = environ.HTTP_IF_RANGE;
    if (range !== null && (ifRange === undefined || ifRange === etag || ifRange === lastModified)) {
      if (range === 'unsatisfiable') {
        return plainText(startResponse, '416 Range Not Satisfiable', 'Range Not Satisfiable\n', [['Content-Range', `bytes */${size}`]]);
      }
      ({ start, end } = range);
      status = '206 Partial Content';
      headers.push(['Content-Range', `bytes ${start}-${end}/${size}`]);
    }
    headers.push(['Content-Length', String(size === 0 ? 0 : end - start + 1)]);
    startResponse(status, headers);
    if (method === 'HEAD' || size === 0) return [];
    const stream = createReadStream(path, { start, end, highWaterMark: 64 * 1024 });
    return Object.assign(stream as AsyncIterable<Buffer>, { close: () => void stream.destroy() });
  };
}
