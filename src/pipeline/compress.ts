// Response compression as a pipeline Middleware (`--compress`): gzip, br and
// zstd, chosen by the request's Accept-Encoding (accept-encoding.ts), for the
// HTTP and HTTPS listeners (behind nginx, the FastCGI/SCGI/uwsgi listeners leave
// it to nginx's gzip, which sees the plain body, as its filters expect).
//
// Rules, each after nginx's gzip filter and RFC 9110:
// - Sent as is: a request without Accept-Encoding (that path costs one property
//   read), HEAD, a Range request; a response 1xx, 204, 206 or 304, one that has
//   a Content-Encoding or Content-Range, `Cache-Control: no-transform`, a type
//   not in COMPRESSIBLE, or a body smaller than `minSize` (by its
//   Content-Length, or its length when it is whole); an app that uses the
//   legacy write(), or calls startResponse only once iterated (a TypeScript
//   generator app; Python's are never seen that way).
// - Compressed: Content-Encoding set, Content-Length dropped (the listener adds
//   the compressed length of a whole body; a stream goes chunked), an ETag made
//   weak (the bytes differ from the plain body's: RFC 9110 §8.8.1), Accept-Encoding
//   added to Vary. A whole body that does not shrink is sent as it was.
// - A whole body is compressed in one call: on the event loop up to `syncMax`
//   bytes (about 100 µs of CPU, cheaper than a trip to the thread pool), on
//   libuv's thread pool above,
//   so a large body never stalls the other clients. A streamed body is
//   compressed block by block, each block flushed (Z_SYNC_FLUSH,
//   BROTLI_OPERATION_FLUSH, ZSTD_e_flush) and sent before the next is asked for:
//   nothing the app yielded is held back (PEP 3333), and backpressure reaches the app.
// - close() reaches the app's body exactly once, however the response ends.

import { LocalProtocolError, codes } from '../errors.js';
import { EncodingChooser } from './accept-encoding.js';
import type { Coding, CompressStream } from './codings.js';
import {
  closeBody,
  type App,
  type Body,
  type Chunk,
  type Environ,
  type ErrorStream,
  type Headers,
  type Middleware,
  type RecyclingBody,
  type StartResponse,
  type WholeBody,
  type Write,
} from './types.js';

export interface CompressOptions {
  /** The codings offered, in order of preference among those a client accepts equally. None: the middleware is the identity. */
  readonly codings: readonly Coding[];
  /** Bodies smaller than this many bytes are sent as they are. */
  readonly minSize: number;
  /** Whole bodies up to this many bytes are compressed on the event loop, larger ones on the thread pool (default: the coding's). */
  readonly syncMax?: number;
}

/** Bodies under 1 KiB are sent as they are (docs/performance.md, "Compression"). */
export const DEFAULT_MIN_SIZE = 1024;

/**
 * The media types compressed: text (but not text/event-stream: its events are small, and a compressor held per
 * open stream costs hundreds of KiB), JSON, JavaScript, XML, WebAssembly, YAML, TOML, any `+json`/`+xml`
 * suffix (SVG, Atom, RSS, JSON-LD, problem+json), and the formats of icons and fonts that are not compressed
 * already (ico, bmp, ttf, otf, eot). Images, audio, video, archives, woff/woff2 are compressed already.
 */
const COMPRESSIBLE = new RegExp(
  '^(?:' +
    [
      'text/(?!event-stream$)[^\\s;]+',
      'application/(?:json|javascript|ecmascript|x-javascript|xml|wasm|x-ndjson|yaml|x-yaml|toml|graphql|vnd\\.ms-fontobject|x-font-ttf)',
      '[a-z]+/[^\\s;]+\\+(?:json|xml)',
      'image/(?:x-icon|vnd\\.microsoft\\.icon|bmp)',
      'font/(?:ttf|otf|collection)',
    ].join('|') +
    ')$',
);

const typeCache = new Map<string, boolean>();

/** Whether a Content-Type value names a compressible media type (parameters ignored). */
export function compressible(contentType: string): boolean {
  const known = typeCache.get(contentType);
  if (known !== undefined) return known;
  const semi = contentType.indexOf(';');
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const yes = COMPRESSIBLE.test(media);
  if (typeCache.size >= 256) typeCache.clear();
  typeCache.set(contentType, yes);
  return yes;
}

/** `Vary` already covers Accept-Encoding (or everything). */
const VARIES = /(?:^|,)[ \t]*(?:accept-encoding|\*)[ \t]*(?:,|$)/i;

/**
 * The headers of the response compressed with `coding`, or null when it is to be sent as it is (see the
 * rules above). `minSize` is held to by the Content-Length, when there is one.
 * @example encodedHeaders('200 OK', [['Content-Type', 'text/html'], ['ETag', '"1"']], 'gzip', 1024)
 * // [['Content-Type', 'text/html'], ['ETag', 'W/"1"'], ['Vary', 'Accept-Encoding'], ['Content-Encoding', 'gzip']]
 */
export function encodedHeaders(status: string, headers: Headers, coding: string, minSize: number): Headers | null {
  const code = Number(status.slice(0, 3));
  if (!(code >= 200) || code === 204 || code === 206 || code === 304) return null;
  let type = '';
  let varies = false;
  for (const [name, value] of headers) {
    switch (name.toLowerCase()) {
      case 'content-type':
        type = value;
        break;
      case 'content-encoding':
      case 'content-range':
        return null;
      case 'content-length':
        if (Number(value) < minSize) return null;
        break;
      case 'cache-control':
        if (/no-transform/i.test(value)) return null;
        break;
      case 'vary':
        varies ||= VARIES.test(value);
        break;
    }
  }
  if (type === '' || !compressible(type)) return null;
  return labelled(headers, coding, varies);
}

/** The headers of a body in `coding`: Content-Length dropped, ETag weakened, Vary and Content-Encoding set. */
function labelled(
  headers: Headers,
  coding: string,
  varies = headers.some(([n, v]) => n.toLowerCase() === 'vary' && VARIES.test(v)),
): Headers {
  const out: Headers = [];
  for (const h of headers) {
    const name = h[0].toLowerCase();
    if (name === 'content-length') continue;
    if (name === 'etag' && h[1].startsWith('"')) out.push([h[0], 'W/' + h[1]]);
    else if (name === 'vary' && !varies) {
      out.push([h[0], `${h[1]}, Accept-Encoding`]);
      varies = true;
    } else out.push(h);
  }
  if (!varies) out.push(['Vary', 'Accept-Encoding']);
  out.push(['Content-Encoding', coding]);
  return out;
}

/**
 * Compress responses for clients that accept it.
 * @example compose(compression({ codings: parseCompress('on'), minSize: 1024 }))(app)
 */
export function compression(options: CompressOptions): Middleware {
  if (options.codings.length === 0) return (app) => app;
  const chooser = new EncodingChooser(options.codings.map((c) => c.name));
  const byName = new Map(options.codings.map((c) => [c.name as string, c]));
  return (app) => (environ, startResponse) => {
    const accept = environ.HTTP_ACCEPT_ENCODING;
    if (accept === undefined || environ.REQUEST_METHOD === 'HEAD' || environ.HTTP_RANGE !== undefined) {
      return app(environ, startResponse);
    }
    const name = chooser.choose(String(accept));
    if (name === null) return app(environ, startResponse);
    return new Compressing(byName.get(name)!, options, startResponse, environ['wsgi.errors']).call(app, environ);
  };
}

const notBytes = (): LocalProtocolError =>
  new LocalProtocolError(codes.BAD_RESPONSE_HEADER, 'app yielded a body chunk that is not bytes or a string');

const toBytes = (c: Chunk): Uint8Array => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c);

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** `chunks` as a body whose close() is `body`'s. */
function withClose(chunks: Chunk[], body: Body): Body {
  const close = body.close;
  if (chunks === body || typeof close !== 'function') return chunks;
  return Object.assign(chunks, { close: () => close.call(body) });
}

/** One response on its way through the middleware: the app's startResponse held until the body shows what to do. */
class Compressing {
  private status: string | null = null;
  private headers: Headers | null = null;
  private excInfo: unknown = undefined;
  /** Set once the outer startResponse was called: the choice is made. */
  private outerWrite: Write | null = null;
  /** Whether the choice was to compress. */
  private encoding = false;
  /** startResponse went straight through (the app had not called it when it returned its body). */
  private passThrough = false;

  constructor(
    private readonly coding: Coding,
    private readonly options: CompressOptions,
    private readonly outer: StartResponse,
    private readonly errors: ErrorStream,
  ) {}

  call(app: App, environ: Environ): Body | Promise<Body> {
    const result = app(environ, this.startResponse);
    return result instanceof Promise ? result.then(this.onBody) : this.onBody(result);
  }

  private readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (this.passThrough) return this.outer(status, headers, excInfo);
    if (this.outerWrite !== null) {
      // a replacement (excInfo) after the choice: it is framed as chosen, and the outer one rethrows once the head left
      return this.outer(status, this.encoding ? labelled(headers, this.coding.name) : headers, excInfo);
    }
    if (this.status !== null && !excInfo) {
      throw new LocalProtocolError(codes.START_RESPONSE_TWICE, 'startResponse called twice without excInfo');
    }
    this.status = status;
    this.headers = headers;
    this.excInfo = excInfo;
    return this.write;
  };

  /** The legacy write(): its bytes leave at once, so the response goes as it is. */
  private readonly write: Write = (chunk) => {
    if (this.outerWrite === null) this.commit(this.headers!);
    this.outerWrite!(chunk);
  };

  private commit(headers: Headers): void {
    this.outerWrite = this.outer(this.status!, headers, this.excInfo);
  }

  private readonly onBody = (body: Body): Body | Promise<Body> => {
    try {
      return this.choose(body);
    } catch (err) {
      // (the outer startResponse refused the head, or the app's `whole` threw): the listener never sees this body
      closeBody(body, this.closeFailed);
      throw err;
    }
  };

  private readonly closeFailed = (err: unknown): void =>
    this.errors.write(`Error in close() of a response that failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);

  private choose(body: Body): Body | Promise<Body> {
    if (this.outerWrite !== null) return body; // write() was used
    if (this.status === null) {
      this.passThrough = true; // startResponse comes once the body is iterated: sent as it is
      return body;
    }
    const encoded = encodedHeaders(this.status, this.headers!, this.coding.name, this.options.minSize);
    if (encoded === null) {
      this.commit(this.headers!);
      return body;
    }
    // (an app's own `whole` that throws is its error: the listener answers 500)
    const whole = Array.isArray(body) ? (body as Chunk[]) : ((body as Partial<WholeBody>).whole?.() ?? null);
    if (whole === null) {
      this.commit(encoded);
      this.encoding = true;
      return new CompressedStream(body, this.coding);
    }
    return this.whole(body, whole, encoded);
  }

  /** A body whose chunks are all in hand: compressed in one call, or sent as it is when small (or not bytes). */
  private whole(body: Body, chunks: Chunk[], encoded: Headers): Body | Promise<Body> {
    let total = 0;
    const bufs: Uint8Array[] = [];
    for (const c of chunks) {
      const b = toBytes(c);
      if (!(b instanceof Uint8Array)) {
        this.commit(this.headers!); // the listener refuses it
        return withClose(chunks, body);
      }
      total += b.length;
      bufs.push(b);
    }
    if (total < this.options.minSize) {
      this.commit(this.headers!);
      return withClose(bufs, body);
    }
    const data = bufs.length === 1 ? asBuffer(bufs[0]!) : Buffer.concat(bufs, total);
    if (total <= (this.options.syncMax ?? this.coding.syncMax)) return this.compressed(body, data, this.coding.compressSync(data), encoded);
    return this.coding
      .compress(data)
      .then((out) => this.compressed(body, data, out, encoded))
      .catch((err: unknown) => {
        // (the compression failed, or the outer startResponse refused the head) the listener never sees this body
        closeBody(body, this.closeFailed);
        throw err;
      });
  }

  private compressed(body: Body, data: Buffer, out: Buffer, encoded: Headers): Body {
    if (out.length >= data.length) {
      this.commit(this.headers!); // it did not shrink
      return withClose([data], body);
    }
    this.commit(encoded);
    this.encoding = true;
    return withClose([out], body);
  }
}

/**
 * A streamed body, compressed block by block: each block the app yields is written to the compressor and
 * flushed, and what came out is yielded before the next block is asked for.
 */
export class CompressedStream implements AsyncIterable<Uint8Array> {
  private z: CompressStream | null = null;
  private out: Buffer[] = [];
  private outBytes = 0;
  private failed: Error | null = null;
  private waiting: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private closed = false;

  constructor(
    private readonly inner: Body,
    private readonly coding: Coding,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const z = this.coding.stream();
    this.z = z;
    z.on('data', (b: Buffer) => {
      this.out.push(b);
      this.outBytes += b.length;
    });
    z.on('error', (err: Error) => this.fail(err));
    z.on('end', () => this.settle());
    // a body that reuses its buffers (static files) gets each back once the compressor has read it
    const recycling =
      typeof (this.inner as Partial<RecyclingBody>).recycle === 'function' ? (this.inner as unknown as RecyclingBody) : null;
    try {
      for await (const c of this.inner as AsyncIterable<Chunk>) {
        if (this.closed) return;
        const buf = toBytes(c);
        if (!(buf instanceof Uint8Array)) throw notBytes();
        if (buf.length === 0) continue;
        await this.until(() => {
          z.write(buf);
          z.flush(this.coding.flushKind, () => this.flushed(z));
        });
        if (this.closed) return; // (the compressor may still hold `buf`: it is not recycled)
        recycling?.recycle(buf);
        if (this.outBytes > 0) yield this.take();
      }
      if (this.closed) return;
      await this.until(() => z.end());
      if (this.outBytes > 0) yield this.take();
    } finally {
      z.destroy();
    }
  }

  /** Run `start`, then wait for the compressor to be done with it (a flush's callback, or the end). */
  private until(start: () => void): Promise<void> {
    if (this.failed !== null) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      start();
    });
  }

  private flushed(z: CompressStream): void {
    // output pushed but not yet emitted (it was buffered by the stream) is emitted now, into `out`
    while (z.readableLength > 0 && z.read() !== null);
    this.settle();
  }

  private settle(): void {
    const w = this.waiting;
    this.waiting = null;
    if (this.failed !== null) w?.reject(this.failed);
    else w?.resolve();
  }

  private fail(err: Error): void {
    this.failed ??= err;
    this.settle();
  }

  private take(): Buffer {
    const block = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    return block;
  }

  /** PEP 3333 close(): the app's body is closed, the compressor let go. */
  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.z?.destroy();
    this.settle(); // a flush in flight is not waited for
    return this.inner.close?.();
  }
}
