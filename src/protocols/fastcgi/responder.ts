// The FastCGI responder role (spec §6.2), sans-I/O: what warpipe speaks when
// nginx (or any FastCGI client) sits in front of it. Records in, events out
// (a request's params, its stdin, its end, an abort); response bytes out.
// Management records (GET_VALUES, unknown types) and requests we cannot take
// (another role, too many at once) are answered here, through `replies`.
//
// Requests are tracked by id, so a client that multiplexes several requests on
// one connection is served correctly (nginx does not; the spec allows it).

import { RemoteProtocolError, codes } from '../../errors.js';
import { ByteQueue, GATHER_MIN } from '../../byte-queue.js';
import { NEED_DATA } from '../need-data.js';
import { decodeParams, encodeParams } from './params.js';
import {
  MAX_ALIGNED_CONTENT,
  ProtocolStatus,
  RecordReader,
  RecordType,
  Role,
  encodeRecord,
  encodeStdoutEnd,
  encodeStream,
  encodeStreamGathered,
  endRequestBody,
  parseBeginRequest,
  unknownTypeBody,
  type FcgiRecord,
} from './record.js';

export interface ResponderLimits {
  /** Largest PARAMS stream of one request, bytes (the CGI head); larger: the connection is refused. */
  maxParamsBytes: number;
  /** Requests one connection may have open at once; more are answered FCGI_OVERLOADED. */
  maxRequests: number;
}

export interface FcgiRequest {
  readonly kind: 'request';
  id: number;
  params: [string, string][];
  keepConn: boolean;
}
export interface FcgiStdin {
  readonly kind: 'stdin';
  id: number;
  data: Buffer;
}
export interface FcgiStdinEnd {
  readonly kind: 'stdin-end';
  id: number;
}
export interface FcgiAbort {
  readonly kind: 'abort';
  id: number;
}
export type FcgiEvent = FcgiRequest | FcgiStdin | FcgiStdinEnd | FcgiAbort;

/** A response none of which was sent yet, written with its request's end: a CGI head (latin-1) and the body. */
export interface LastStdout {
  readonly head: string;
  readonly body: readonly Uint8Array[];
  readonly bodyBytes: number;
}
const NO_STDOUT: LastStdout = { head: '', body: [], bodyBytes: 0 };

const enum Phase {
  Params,
  Stdin,
  Done,
}

interface Open {
  phase: Phase;
  keepConn: boolean;
  /** Copied in blocks when they come in small records, so their memory follows their bytes. */
  params: ByteQueue;
}

function bad(why: string): RemoteProtocolError {
  return new RemoteProtocolError(codes.FCGI_BAD_RECORD, `bad FastCGI request: ${why}`, 400);
}

/**
 * @example
 * const r = new Responder({ maxParamsBytes: 65536, maxRequests: 64 });
 * r.receive(bytes);
 * for (let ev = r.next(); ev !== NEED_DATA; ev = r.next()) handle(ev);
 * socket.write(Buffer.concat(r.takeReplies()));
 */
export class Responder {
  private readonly reader = new RecordReader();
  private readonly open = new Map<number, Open>();
  private replies: Buffer[] = [];

  constructor(private readonly limits: ResponderLimits) {}

  receive(chunk: Buffer): void {
    this.reader.receive(chunk);
  }

  /** Bytes to send now that no request produced: answers to management records and refusals. */
  takeReplies(): Buffer[] {
    const out = this.replies;
    this.replies = [];
    return out;
  }

  /**
   * What the client still owes: `head` while a request's PARAMS (or a record
   * begun) are incomplete, `body` while a request's STDIN is open, null when
   * every request begun has been received whole.
   */
  get receiving(): 'head' | 'body' | null {
    let body = false;
    for (const req of this.open.values()) {
      if (req.phase === Phase.Params) return 'head';
      if (req.phase === Phase.Stdin) body = true;
    }
    if (this.reader.bufferedBytes > 0 && !body) return 'head';
    return body ? 'body' : null;
  }

  /** Bytes received that are not yet whole records. */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }

  /** Requests begun and not yet ended by `end()`. */
  get active(): number {
    return this.open.size;
  }

  /** The next event, or NEED_DATA. Throws RemoteProtocolError: the connection is to be closed. */
  next(): FcgiEvent | typeof NEED_DATA {
    for (;;) {
      const rec = this.reader.next();
      if (rec === NEED_DATA) return NEED_DATA;
      const ev = this.onRecord(rec);
      if (ev !== null) return ev;
    }
  }

  private onRecord(rec: FcgiRecord): FcgiEvent | null {
    const { type, requestId: id, content } = rec;
    if (id === 0) {
      this.onManagement(type, content);
      return null;
    }
    if (type === RecordType.BeginRequest) {
      if (this.open.has(id)) throw bad(`BEGIN_REQUEST for request ${id}, which is already open`);
      const { role, keepConn } = parseBeginRequest(content);
      if (role !== Role.Responder) {
        this.replies.push(encodeRecord(RecordType.EndRequest, id, endRequestBody(0, ProtocolStatus.UnknownRole)));
      } else if (this.open.size >= this.limits.maxRequests) {
        this.replies.push(encodeRecord(RecordType.EndRequest, id, endRequestBody(0, ProtocolStatus.Overloaded)));
      } else {
        this.open.set(id, { phase: Phase.Params, keepConn, params: new ByteQueue() });
      }
      return null;
    }
    const req = this.open.get(id);
    if (req === undefined) return null; // spec §3.3: records of a request that is not active are ignored
    switch (type) {
      case RecordType.Params:
        if (req.phase !== Phase.Params) throw bad(`PARAMS for request ${id} after its params ended`);
        if (content.length === 0) {
          req.phase = Phase.Stdin;
          const block = req.params.take();
          return { kind: 'request', id, params: decodeParams(block), keepConn: req.keepConn };
        }
        if (req.params.bytes + content.length > this.limits.maxParamsBytes) {
          throw new RemoteProtocolError(
            codes.FCGI_BAD_PARAMS,
            `FastCGI params of request ${id} exceed ${this.limits.maxParamsBytes} bytes`,
            431,
          );
        }
        req.params.push(content);
        return null;
      case RecordType.Stdin:
        if (req.phase !== Phase.Stdin)
          throw bad(`STDIN for request ${id} ${req.phase === Phase.Params ? 'before its params ended' : 'after its end'}`);
        if (content.length === 0) {
          req.phase = Phase.Done;
          return { kind: 'stdin-end', id };
        }
        return { kind: 'stdin', id, data: content };
      case RecordType.AbortRequest:
        return { kind: 'abort', id };
      case RecordType.Data:
        return null; // the filter role's second stream: not ours
      default:
        throw bad(`record type ${type} from the client`);
    }
  }

  private onManagement(type: number, content: Buffer): void {
    if (type === RecordType.GetValues) {
      const known: Record<string, string> = {
        FCGI_MAX_CONNS: '1024',
        FCGI_MAX_REQS: String(this.limits.maxRequests),
        FCGI_MPXS_CONNS: '1',
      };
      const answer = decodeParams(content)
        .filter(([name]) => Object.hasOwn(known, name))
        .map(([name]) => [name, known[name]!] as [string, string]);
      this.replies.push(encodeRecord(RecordType.GetValuesResult, 0, encodeParams(answer)));
    } else {
      this.replies.push(encodeRecord(RecordType.UnknownType, 0, unknownTypeBody(type)));
    }
  }

  /** Response bytes for request `id` (CGI head and body), as STDOUT records. */
  stdout(id: number, data: Uint8Array): Buffer[] {
    if (data.length === 0) return [];
    // a large body framed around views of it, not copied into records (GATHER_MIN)
    return data.length >= GATHER_MIN ? encodeStreamGathered(RecordType.Stdout, id, data) : encodeStream(RecordType.Stdout, id, data);
  }

  /**
   * End request `id`: `last` (the whole response, when none of it was sent
   * yet) as STDOUT, the empty STDOUT and END_REQUEST; in one buffer when `last`
   * fits one record and its body is under GATHER_MIN bytes (the common case).
   * Returns whether the connection may stay open (the client asked for FCGI_KEEP_CONN), and
   * whether the request had come whole (its STDIN ended): else the client may still send some.
   */
  end(
    id: number,
    appStatus = 0,
    protocolStatus: number = ProtocolStatus.RequestComplete,
    last?: LastStdout,
  ): { bytes: Buffer[]; keepConn: boolean; received: boolean } {
    const req = this.open.get(id);
    this.open.delete(id);
    const keepConn = req?.keepConn ?? false;
    const received = req?.phase === Phase.Done;
    if (last === undefined || (last.bodyBytes < GATHER_MIN && last.head.length + last.bodyBytes <= MAX_ALIGNED_CONTENT)) {
      const { head, body, bodyBytes } = last ?? NO_STDOUT;
      return { bytes: [encodeStdoutEnd(id, head, body, bodyBytes, appStatus, protocolStatus)], keepConn, received };
    }
    const bytes = encodeStream(RecordType.Stdout, id, Buffer.from(last.head, 'latin1'));
    for (const b of last.body) bytes.push(...this.stdout(id, b));
    bytes.push(encodeRecord(RecordType.Stdout, id), encodeRecord(RecordType.EndRequest, id, endRequestBody(appStatus, protocolStatus)));
    return { bytes, keepConn, received };
  }
}
