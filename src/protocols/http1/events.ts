// What the request parser (parse.ts) yields, and the limits it enforces: one
// RequestHead, then Data*, then EndOfMessage per request (h11's event names).

export interface Limits {
  /** Longest request line (method SP target SP version) in bytes; longer -> 414. */
  maxRequestLine: number;
  /** Most header fields (and, separately, trailer fields); more -> 431. */
  maxHeaderFields: number;
  /** Longest single field line in bytes, without its CRLF; longer -> 431. */
  maxFieldSize: number;
  /** Largest whole head (request line + fields + blank line) in bytes; larger -> 431. Also caps a trailer section. */
  maxHeaderBytes: number;
  /** Largest request body in bytes (Infinity: no limit); larger -> 413. */
  maxBodyBytes: number;
  /** Longest chunk-size line including extensions, without its CRLF; longer -> 400. */
  maxChunkLine: number;
}

export const defaultLimits: Limits = {
  maxRequestLine: 8190,
  maxHeaderFields: 100,
  maxFieldSize: 8190,
  maxHeaderBytes: 65536,
  maxBodyBytes: Infinity,
  maxChunkLine: 4096,
};

export interface RequestHead {
  readonly kind: 'request';
  /** The method token, case as sent. */
  method: string;
  /** The raw request-target (latin-1), in whichever form was sent. */
  target: string;
  minor: 0 | 1;
  /** Flat [name, value, name, value, …]; names as sent, values without surrounding OWS. */
  headers: string[];
  /** Body length in bytes: 0 when there is no body, -1 when chunked. */
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  /** HTTP/1.1 with `Expect: 100-continue`. */
  expectContinue: boolean;
  /** The Host field value, or null when there is none (HTTP/1.0 only). */
  host: string | null;
}
export interface Data { readonly kind: 'data'; chunk: Buffer }
export interface EndOfMessage { readonly kind: 'end' }
export type ParseEvent = RequestHead | Data | EndOfMessage;

/** The one EndOfMessage event (it carries nothing). */
export const END_OF_MESSAGE: EndOfMessage = Object.freeze({ kind: 'end' as const });
