// Clients for compressed responses: a GET that keeps the bytes as sent (no
// transparent decoding, unlike fetch), decoders for every coding, and text that
// compresses like real text (words, not one byte repeated).

import http from 'node:http';
import zlib from 'node:zlib';

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as sent (still encoded). */
  raw: Buffer;
}

/** GET (or `method`) `path` on 127.0.0.1:`port`, the body as it came. */
export function getRaw(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, raw: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

type Zstd = { zstdDecompressSync?(b: Buffer): Buffer; createZstdDecompress?(): zlib.Gunzip };
const z = zlib as typeof zlib & Zstd;

/** Whether this Node can decode (and warpipe on it compress) zstd. */
export const nodeHasZstd = typeof z.createZstdDecompress === 'function';

/** The body decoded from its Content-Encoding. */
export function decode(encoding: string | undefined, raw: Buffer): Buffer {
  switch (encoding) {
    case undefined:
      return raw;
    case 'gzip':
      return zlib.gunzipSync(raw);
    case 'br':
      return zlib.brotliDecompressSync(raw);
    case 'zstd':
      return z.zstdDecompressSync!(raw);
    default:
      throw new Error(`unknown Content-Encoding ${encoding}`);
  }
}

/** A streaming decoder for `encoding`. */
export function decoder(encoding: string): zlib.Gunzip | zlib.BrotliDecompress {
  if (encoding === 'gzip') return zlib.createGunzip();
  if (encoding === 'br') return zlib.createBrotliDecompress();
  if (encoding === 'zstd') return z.createZstdDecompress!();
  throw new Error(`unknown Content-Encoding ${encoding}`);
}

const WORDS =
  'the of and to in is that it for on with as was at by an be this from or have not are but had they which one you were her all ' +
  'she there would their we him been has when who will more no if out so said what up its about into than them can only other new ' +
  'some could time these two may then do first any my now such like our over man me even most made after also did many before must';
const LIST = WORDS.split(' ');

/** `bytes` of text made of common words in a fixed pseudo-random order (seeded): compresses like prose, about 3:1 with gzip. */
export function prose(bytes: number, seed = 1): string {
  let x = seed;
  let out = '';
  while (out.length < bytes) {
    x = (x * 48271) % 2147483647; // MINSTD: exact in doubles, and the same in Python
    out += LIST[x % LIST.length] + (x % 17 === 0 ? '.\n' : ' ');
  }
  return out.slice(0, bytes);
}
