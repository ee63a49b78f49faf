// PEP 3333, mirrored in TypeScript. A middleware written against these types
// reads the same as its Python twin: the server calls `app(environ,
// startResponse)`, the app calls `startResponse(status, headers)` and returns a
// body iterable, the server iterates the body and always calls `close()`.
//
// Semantics kept from WSGI: the status line and headers leave the server no
// earlier than the first non-empty body chunk; `excInfo` may replace them only
// until then; `close()` runs however the iteration ends.

/** One body chunk: bytes, or a string that is encoded as latin-1 (PEP 3333 native strings). */
export type Chunk = Uint8Array | string;

/** What an app returns: any sync or async iterable of chunks, optionally closable. */
export type Body = (Iterable<Chunk> | AsyncIterable<Chunk>) & { close?(): void | Promise<void> };

/**
 * Optional on a Body: all its chunks, if it already holds every one of them
 * (else null). A server may then send the response in one write with a
 * Content-Length instead of streaming it.
 */
export interface WholeBody {
  whole(): Chunk[] | null;
}

/**
 * Optional on a Body: takes back a chunk it yielded once the server no longer
 * holds it (its bytes left the process), so that its buffer can be read into
 * again. A server that cannot tell never calls it (the chunk is then left to the
 * garbage collector).
 */
export interface RecyclingBody {
  recycle(chunk: Uint8Array): void;
}

/** The legacy `write()` callable returned by startResponse. */
export type Write = (chunk: Chunk) => void;

/** Response header list, as in WSGI: ordered `[name, value]` pairs. */
export type Headers = [string, string][];

/**
 * `startResponse(status, headers, excInfo?)`. `status` is `"200 OK"`-shaped.
 * Calling it twice is an error unless `excInfo` is given; once the head is sent,
 * a call with `excInfo` rethrows it.
 */
export type StartResponse = (status: string, headers: Headers, excInfo?: unknown) => Write;

/** The request body stream (`wsgi.input`): chunks in order, then the end. */
export interface Input extends AsyncIterable<Uint8Array> {
  /** Read the whole remaining body. */
  readAll(): Promise<Buffer>;
  /** The whole body, when the server already holds all of it (else null). */
  readonly buffered: Buffer | null;
}

/** The log stream (`wsgi.errors`). */
export interface ErrorStream {
  write(text: string): void;
}

/**
 * The environ: CGI/1.1 meta-variables (RFC 3875 §4.1) and `HTTP_*` fields as
 * latin-1 strings, plus the `wsgi.*` entries.
 */
export interface Environ {
  REQUEST_METHOD: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  QUERY_STRING: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  REMOTE_ADDR?: string;
  'wsgi.url_scheme': string;
  'wsgi.input': Input;
  'wsgi.errors': ErrorStream;
  /**
   * Set by an app that wants to know when the client leaves before its response is over (the Python
   * pool: a queued request is dropped, an ASGI app hears http.disconnect); `clientGone()` is called once.
   * An object, not a closure: the pool sets it on every request.
   */
  'warpipe.client_gone'?: { clientGone(): void };
  [key: string]: unknown;
}

/**
 * A WSGI application.
 * @example
 * const hello: App = (environ, startResponse) => {
 *   startResponse('200 OK', [['Content-Type', 'text/plain']]);
 *   return ['hello ', environ.PATH_INFO];
 * };
 */
export type App = (environ: Environ, startResponse: StartResponse) => Body | Promise<Body>;

/**
 * A pipe piece: receives the app after it, returns the app before it.
 * @example
 * const poweredBy: Middleware = (app) => (environ, startResponse) =>
 *   app(environ, (status, headers, excInfo) =>
 *     startResponse(status, [...headers, ['X-Powered-By', 'warpipe']], excInfo));
 */
export type Middleware = (app: App) => App;

/** Wrap `app` in middleware, outermost first: compose(a, b)(app) = a(b(app)). */
export function compose(...middleware: Middleware[]): Middleware {
  return (app) => middleware.reduceRight((inner, mw) => mw(inner), app);
}

/**
 * PEP 3333: call the body's close(), if it has one; whatever it throws or
 * rejects with goes to `onError`, never to the caller.
 */
export function closeBody(body: Body | null, onError: (err: unknown) => void): void {
  if (!body || typeof body.close !== 'function') return;
  try {
    const p = body.close();
    if (p instanceof Promise) p.catch(onError);
  } catch (err) {
    onError(err);
  }
}
