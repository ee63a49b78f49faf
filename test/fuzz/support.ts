// Shared pieces of the property-based fuzz tests (test/fuzz/*.test.ts): the run
// budget, seeded fc.assert, byte/string arbitraries, cutting a stream into reads
// and mutating valid encodings.
//
// Budget and replay (environment):
//   FUZZ_RUNS  runs per property (default 150; each property scales it by a factor)
//   FUZZ_SEED  the seed (default: random, printed in every failure message)
//   FUZZ_TIME  seconds per property at most (default: none); bench/fuzz.sh sets it
// A failure reads "FUZZ_SEED=… FUZZ_RUNS=…" plus fast-check's seed/path and shrunk
// counterexample; rerun with the same FUZZ_SEED and FUZZ_RUNS to replay it.

import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { chunks } from '../vectors/feed.js';

function envNumber(name: string): number | null {
  const v = process.env[name];
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name}=${v} is not a number`);
  return n;
}

export const SEED = envNumber('FUZZ_SEED') ?? (Math.random() * 0x7fffffff) | 0;
export const RUNS = Math.max(1, envNumber('FUZZ_RUNS') ?? 150);
const TIME_MS = (envNumber('FUZZ_TIME') ?? 0) * 1000;

/**
 * fc.assert with the shared seed and budget; `scale` adjusts the run count for
 * costly properties. Failures name the seed and how to replay them.
 */
export function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, scale = 1): void {
  const params: fc.Parameters<Ts> = { seed: SEED, numRuns: Math.max(1, Math.round(RUNS * scale)) };
  if (TIME_MS > 0) params.plugins = [fc.interruptAfterTimeLimit(TIME_MS)];
  try {
    fc.assert(property, params);
  } catch (err) {
    const replay = `replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} node --test dist/test/fuzz/`;
    if (err instanceof Error) {
      // fast-check 4 keeps the property's own error as `cause`; the test runner does not print it
      const cause = err.cause instanceof Error ? `\nGot error: ${err.cause.stack ?? err.cause.message}` : '';
      err.message = `${replay}\n${err.message}${cause}`;
      throw err;
    }
    throw new Error(`${replay}\n${String(err)}`);
  }
}

/** A test name that carries the seed, so that the log of any run says how to replay it. */
export const seeded = (name: string): string => `${name} (FUZZ_SEED=${SEED})`;

/** A Buffer view of a Uint8Array (fast-check hands out Uint8Arrays). */
export const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Arbitrary bytes. */
export const bytes = (maxLength = 64, minLength = 0): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength, maxLength }).map(buf);

/**
 * One latin-1 character (code 0-255). The unmapper lets fast-check build its
 * "dangerous" strings (__proto__, toString, constructor, …) out of it too.
 */
export const latin1Char: fc.Arbitrary<string> = fc.integer({ min: 0, max: 255 }).map(
  (c) => String.fromCharCode(c),
  (s) => {
    if (typeof s !== 'string' || s.length !== 1 || s.charCodeAt(0) > 255) throw new Error('not a latin-1 character');
    return s.charCodeAt(0);
  },
);

/** Latin-1 strings (each character one byte on the wire). */
export const latin1 = (c: fc.StringConstraints = {}): fc.Arbitrary<string> => fc.string({ ...c, unit: latin1Char });

/** Strings over the characters of `alphabet` (with the same unmapping as latin1Char). */
export function stringOf(alphabet: string, c: fc.StringConstraints = {}): fc.Arbitrary<string> {
  return fc.string({ ...c, unit: fc.constantFrom(...alphabet.split('')) });
}

/**
 * A length that often sits on a boundary of the format (one either side of each
 * of `edges`), otherwise small.
 */
export function edgyLength(edges: readonly number[], small = 40): fc.Arbitrary<number> {
  const near = edges.flatMap((e) => [e - 1, e, e + 1]).filter((n) => n >= 0);
  return fc.oneof({ weight: 4, arbitrary: fc.nat(small) }, { weight: 1, arbitrary: fc.constantFrom(...near) });
}

/** A latin-1 string of exactly `n` characters (random ones when short, a cheap pattern when long). */
export function latin1OfLength(n: number): fc.Arbitrary<string> {
  if (n <= 256) return latin1({ minLength: n, maxLength: n });
  return fc.tuple(latin1({ minLength: 1, maxLength: 16 }), latin1Char).map(([head, fill]) => (head + fill.repeat(n)).slice(0, n));
}

/** Cut points for splitting a stream into reads: any naturals, reduced modulo the length. */
export const cuts: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 12 });

/** `data` as the reads that `points` cut it into, in order (with `empty`, some reads may be empty). */
export function split(data: Buffer, points: readonly number[], empty = false): Buffer[] {
  let at = points.map((p) => p % (data.length + 1)).sort((a, b) => a - b);
  if (!empty) at = [...new Set(at)].filter((p) => p > 0 && p < data.length);
  return chunks(data, at);
}

/** Every byte as its own read. */
export const bytewise = (data: Buffer): Buffer[] => [...data].map((b) => Buffer.of(b));

export interface Mutation {
  op: 0 | 1 | 2 | 3;
  at: number;
  byte: number;
}

/** Byte-level damage: flip a bit, overwrite, insert or delete a byte. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({ op: fc.constantFrom<0 | 1 | 2 | 3>(0, 1, 2, 3), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  { minLength: 1, maxLength: 6 },
);

export function mutate(data: Buffer, ms: readonly Mutation[]): Buffer {
  const a = [...data];
  for (const { op, at, byte } of ms) {
    if (op === 2) {
      a.splice(at % (a.length + 1), 0, byte);
      continue;
    }
    if (a.length === 0) continue;
    const i = at % a.length;
    if (op === 0) a[i] = a[i]! ^ (1 << (byte & 7));
    else if (op === 1) a[i] = byte;
    else a.splice(i, 1);
  }
  return Buffer.from(a);
}

/** A valid encoding, damaged. */
export function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, mutations).map(([b, ms]) => mutate(b, ms));
}

/** Byte strings stitched from the format's own tokens and random bytes (reaches deeper than random bytes). */
export function tokens(dictionary: readonly string[], maxLength = 24): fc.Arbitrary<Buffer> {
  const piece = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...dictionary).map((s) => Buffer.from(s, 'latin1')) },
    { weight: 1, arbitrary: bytes(6, 1) },
  );
  return fc.array(piece, { maxLength }).map((ps) => Buffer.concat(ps));
}

/**
 * Run `fn`; if it throws, the error must be an instance of `errorClass` (the
 * codec's own protocol error): a TypeError, RangeError or plain Error is a bug.
 */
export function onlyThrows<T, E extends Error>(errorClass: new (...args: never[]) => E, fn: () => T): T | E {
  try {
    return fn();
  } catch (err) {
    if (err instanceof errorClass) return err;
    const e = err as Error;
    assert.fail(`threw ${e?.constructor?.name ?? typeof err} instead of ${errorClass.name}: ${e?.stack ?? String(err)}`);
  }
}

/** Pick sorted-subsequence interleavings: merge several sequences in an order given by `picks`. */
export function interleave<T>(seqs: readonly (readonly T[])[], picks: readonly number[]): T[] {
  const pos = seqs.map(() => 0);
  const out: T[] = [];
  let p = 0;
  for (;;) {
    const live = seqs.map((s, i) => (pos[i]! < s.length ? i : -1)).filter((i) => i >= 0);
    if (live.length === 0) return out;
    const i = live[(picks[p++ % Math.max(1, picks.length)] ?? 0) % live.length]!;
    out.push(seqs[i]![pos[i]!++]!);
  }
}
