// The HTTP/1.1 request vector runner (after gunicorn's treq.py). Each vector is a
// raw wire file test/vectors/http1/{valid,invalid}/NNN.http with NNN.json beside it:
//   valid:   { why, limits?, requests: [{ method, target, minor, headers, contentLength,
//              chunked, keepAlive, expectContinue, host, body, ended }] }
//   invalid: { why, limits?, status, code, before }   (before: requests completed first)
// Each vector is fed whole, line by line, byte by byte and in 20 random splits (feed.ts);
// every way must give the expected result. The random splits use a seeded PRNG; set
// HTTP1_VECTOR_SEED to replay a failure (the seed is in every failure message).

import assert from 'node:assert/strict';
import { RemoteProtocolError } from '../../src/errors.js';
import { NEED_DATA, RequestParser, defaultLimits, type Limits } from '../../src/protocols/http1/parse.js';
import { vectorSuites } from './feed.js';

interface ExpectedRequest {
  method: string;
  target: string;
  minor: number;
  headers: string[];
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
  host: string | null;
  body: string;
  ended: boolean;
}
interface Vector {
  why: string;
  limits?: Partial<Limits>;
  requests?: ExpectedRequest[];
  status?: number;
  code?: string;
  before?: number;
}
interface Result {
  requests: ExpectedRequest[];
  error: { status: number; code: string } | null;
}

function run(chunks: Buffer[], limits: Limits): Result {
  const parser = new RequestParser(limits);
  const requests: ExpectedRequest[] = [];
  const bodies: Buffer[][] = [];
  try {
    for (const chunk of chunks) {
      parser.receive(chunk);
      for (;;) {
        const ev = parser.next();
        if (ev === NEED_DATA) break;
        if (ev.kind === 'request') {
          const { kind: _, ...head } = ev;
          requests.push({ ...head, body: '', ended: false });
          bodies.push([]);
        } else if (ev.kind === 'data') {
          assert.ok(ev.chunk.length > 0, 'zero-length Data event');
          bodies.at(-1)!.push(ev.chunk);
        } else {
          requests.at(-1)!.ended = true;
        }
      }
    }
  } catch (err) {
    if (!(err instanceof RemoteProtocolError)) throw err;
    return { requests: finish(requests, bodies), error: { status: err.status, code: err.code } };
  }
  return { requests: finish(requests, bodies), error: null };
}

function finish(requests: ExpectedRequest[], bodies: Buffer[][]): ExpectedRequest[] {
  requests.forEach((r, i) => {
    r.body = Buffer.concat(bodies[i]!).toString('latin1');
  });
  return requests;
}

function expected(vector: Vector): Result {
  if (vector.requests) return { requests: vector.requests, error: null };
  return { requests: [], error: { status: vector.status!, code: vector.code! } };
}

vectorSuites<Vector>({
  format: 'http1',
  ext: 'http',
  seedVar: 'HTTP1_VECTOR_SEED',
  check({ kind, vector, chunks, where }) {
    const got = run(chunks, { ...defaultLimits, ...vector.limits });
    if (kind === 'valid') {
      assert.deepEqual(got, expected(vector), where);
    } else {
      assert.deepEqual(got.error, expected(vector).error, where);
      const completed = got.requests.filter((r) => r.ended).length;
      assert.equal(completed, vector.before ?? 0, `${where}: requests completed before the error`);
    }
  },
});
