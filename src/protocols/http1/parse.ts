// PLACEHOLDER — to be replaced by the real parser (see the helper brief). Interface only.
import { RemoteProtocolError } from '../../errors.js';

export interface Limits {
  /** Longest request line (method SP target SP version) in bytes; longer -> 414. */
  maxRequestLine: number;
  /** Most header fields; more -> 431. */
  maxHeaderFields: number;
  /** Longest single header field line in bytes; longer -> 431. */
  maxFieldSize: number;
  /** Largest whole head (request line + fields + blank line) in bytes; larger -> 431. */
  maxHeaderBytes: number;
  /** Largest request body in bytes (Infinity: no limit); larger -> 413. */
  maxBodyBytes: number;
  /** Longest chunk-size line including extensions; longer -> 400. */
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
  method: string;
  target: string;
  minor: 0 | 1;
  headers: string[];
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  host: string | null;
}
export interface Data { readonly kind: 'data'; chunk: Buffer }
export interface EndOfMessage { readonly kind: 'end' }
export const NEED_DATA: unique symbol = Symbol('NEED_DATA');
export type ParseEvent = RequestHead | Data | EndOfMessage;

export class RequestParser {
  constructor(readonly limits: Limits = defaultLimits) {}
  receive(_chunk: Buffer): void { throw new RemoteProtocolError('ERR_TODO', 'todo', 400); }
  next(): ParseEvent | typeof NEED_DATA { return NEED_DATA; }
  get bufferedBytes(): number { return 0; }
}
