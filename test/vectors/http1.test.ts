// The HTTP/1.1 request vector runner (after gunicorn's treq.py). Each vector is a
// raw wire file test/vectors/http1/{valid,invalid}/NNN.http with NNN.json beside it:
//   valid:   { why, limits?, requests: [{ method, target, minor, headers, contentLength,
//              chunked, keepAlive, expectContinue, host, body, ended }] }
//   invalid: { why, limits?, status, code, before }   (before: requests completed first)
// Each vector is fed whole, line by line, byte by byte and in 20 random splits; every
// way must give the expected result. The random splits use a seeded PRNG; set
// HTTP1_VECTOR_SEED to replay a failure (the seed is in every failure message).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RemoteProtocolError } from '../../src/errors.js';
import { NEED_DATA, RequestParser, defaultLimits, type Limits } from '../../src/protocols/http1/parse.js';

// Compiled to dist/test/vectors/, the vectors stay in the source tree.
const ROOT = fileURLToPath(new URL('../../../test/vectors/http1/', import.meta.url));
const SEED = Number(process.env.HTTP1_VECTOR_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RANDOM_SPLITS = 20;

interface ExpectedRequest {
  method: string; target: string; minor: number; headers: string[]; contentLength: number; chunked: boolean;
  keepAlive: boolean; expectContinue: boolean; host: string | null; body: string; ended: boolean;
}
interface Vector {
  why: string;
  limits?: Partial<Limits>;
  requests?: ExpectedRequest[];
  status?: number;
  code?: string;
  before?: number;
}
interface Result { requests: ExpectedRequest[]; error: { status: number; code: string } | null }

function run(bytes: Buffer, cuts: number[], limits: Limits): Result {
  const parser = new RequestParser(limits);
  const requests: ExpectedRequest[] = [];
  const bodies: Buffer[][] = [];
  let prev = 0;
  try {
    for (const cut of [...cuts, bytes.length]) {
      parser.receive(bytes.subarray(prev, cut));
      prev = cut;
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
  requests.forEach((r, i) => { r.body = Buffer.concat(bodies[i]!).toString('latin1'); });
  return requests;
}

/** Cut points: after every LF. */
function lineCuts(bytes: Buffer): number[] {
  const cuts: number[] = [];
  for (let i = bytes.indexOf(10); i >= 0 && i + 1 < bytes.length; i = bytes.indexOf(10, i + 1)) cuts.push(i + 1);
  return cuts;
}

/** mulberry32: small, seedable, good enough to pick cut points. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCuts(length: number, random: () => number): number[] {
  const cuts = new Set<number>();
  const count = Math.floor(random() * Math.min(length, 12));
  for (let i = 0; i < count; i++) cuts.add(1 + Math.floor(random() * Math.max(1, length - 1)));
  return [...cuts].filter((c) => c < length).sort((x, y) => x - y);
}

function expected(vector: Vector): Result {
  if (vector.requests) return { requests: vector.requests, error: null };
  return { requests: [], error: { status: vector.status!, code: vector.code! } };
}

function check(kind: 'valid' | 'invalid', name: string): void {
  const bytes = readFileSync(`${ROOT}${kind}/${name}.http`);
  const vector = JSON.parse(readFileSync(`${ROOT}${kind}/${name}.json`, 'utf8')) as Vector;
  const limits: Limits = { ...defaultLimits, ...vector.limits };
  const random = prng(SEED ^ Number(name) ^ (kind === 'valid' ? 0 : 0x5bd1e995));
  const ways: Array<[string, number[]]> = [
    ['whole', []],
    ['line by line', lineCuts(bytes)],
    ['byte by byte', Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1)],
  ];
  for (let i = 0; i < RANDOM_SPLITS; i++) ways.push([`random split ${i}`, randomCuts(bytes.length, random)]);

  const want = expected(vector);
  for (const [way, cuts] of ways) {
    const got = run(bytes, cuts, limits);
    const where = `${kind}/${name} (${vector.why}), fed ${way} [cuts ${cuts.join(',')}], HTTP1_VECTOR_SEED=${SEED}`;
    if (kind === 'valid') {
      assert.deepEqual(got, want, where);
    } else {
      assert.deepEqual(got.error, want.error, where);
      const completed = got.requests.filter((r) => r.ended).length;
      assert.equal(completed, vector.before ?? 0, `${where}: requests completed before the error`);
    }
  }
}

for (const kind of ['valid', 'invalid'] as const) {
  const names = readdirSync(`${ROOT}${kind}`)
    .filter((f) => f.endsWith('.http'))
    .map((f) => f.slice(0, -'.http'.length))
    .sort();
  describe(`http1 ${kind} vectors (${names.length})`, () => {
    it('has vectors', () => assert.ok(names.length > 0, `no vectors in ${ROOT}${kind}`));
    for (const name of names) {
      const why = (JSON.parse(readFileSync(`${ROOT}${kind}/${name}.json`, 'utf8')) as Vector).why;
      it(`${name}: ${why}`, () => check(kind, name));
    }
  });
}
