// Shared by every vector runner in this folder: finds a format's vectors
// (test/vectors/<format>/{valid,invalid}/NNN.<ext> with NNN.json beside it),
// and feeds each one whole, line by line (cut after every LF), byte by byte
// and in RANDOM_SPLITS seeded random splits. A runner only says what one way
// of feeding must give. The random splits use a seeded PRNG; the seed is in
// every failure message, and `<FORMAT>_VECTOR_SEED=<seed>` replays it.
//
// A decoder must give the same result however its input was cut into reads;
// this is the check that finds the ones that do not.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

export const RANDOM_SPLITS = 20;

export type Kind = 'valid' | 'invalid';

/** One way of cutting a vector into reads: the offsets where a read ends and the next begins. */
export interface Way {
  name: string;
  cuts: number[];
}

export interface VectorCase<V> {
  kind: Kind;
  name: string;
  bytes: Buffer;
  vector: V;
  way: Way;
  /** The reads, in order (at least one, possibly empty if the vector is). */
  chunks: Buffer[];
  /** For assertion messages: vector, way, cuts and the seed that replays it. */
  where: string;
}

/** The source-tree directory of a format's vectors (runners run from dist/test/vectors/). */
export function vectorRoot(format: string): string {
  return fileURLToPath(new URL(`../../../test/vectors/${format}/`, import.meta.url));
}

/** Cut points: after every LF. */
export function lineCuts(bytes: Buffer): number[] {
  const cuts: number[] = [];
  for (let i = bytes.indexOf(10); i >= 0 && i + 1 < bytes.length; i = bytes.indexOf(10, i + 1)) cuts.push(i + 1);
  return cuts;
}

/** Cut points: between every two bytes. */
export function byteCuts(bytes: Buffer): number[] {
  return Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1);
}

/** mulberry32: small, seedable, good enough to pick cut points. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomCuts(length: number, random: () => number): number[] {
  const cuts = new Set<number>();
  const count = Math.floor(random() * Math.min(length, 12));
  for (let i = 0; i < count; i++) cuts.add(1 + Math.floor(random() * Math.max(1, length - 1)));
  return [...cuts].filter((c) => c < length).sort((x, y) => x - y);
}

/** Whole, line by line, byte by byte, then RANDOM_SPLITS random splits drawn from `random`. */
export function ways(bytes: Buffer, random: () => number): Way[] {
  const out: Way[] = [
    { name: 'whole', cuts: [] },
    { name: 'line by line', cuts: lineCuts(bytes) },
    { name: 'byte by byte', cuts: byteCuts(bytes) },
  ];
  for (let i = 0; i < RANDOM_SPLITS; i++) out.push({ name: `random split ${i}`, cuts: randomCuts(bytes.length, random) });
  return out;
}

/** `bytes` cut at `cuts` (ascending, each inside the buffer). */
export function chunks(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.subarray(prev, cut));
    prev = cut;
  }
  return out;
}

/** The seed for a run: `envVar` if set, else a random one. */
export function vectorSeed(envVar: string): number {
  return Number(process.env[envVar] ?? Math.floor(Math.random() * 2 ** 31));
}

/** The PRNG of one vector: the run's seed mixed with the vector's number and kind. */
export function vectorRandom(seed: number, kind: Kind, name: string): () => number {
  return prng(seed ^ Number(name) ^ (kind === 'valid' ? 0 : 0x5bd1e995));
}

/**
 * Every vector's json has a `why`. One may also have a `todo`: it records a bug
 * found by the vector and not fixed yet (outside the codec under test); the test
 * still runs and reports, but as a node:test TODO that does not fail the run.
 */
export interface VectorBase {
  why: string;
  todo?: string;
}

export interface SuiteOptions<V extends VectorBase> {
  /** Directory name under test/vectors/, and the suite's title. */
  format: string;
  /** Extension of the raw files, without the dot. */
  ext: string;
  /** The environment variable that replays a seed. */
  seedVar: string;
  /** What feeding one vector one way must give: assert it (may be async). */
  check: (c: VectorCase<V>) => void | Promise<void>;
}

/**
 * Declares the node:test suites of one format: one test per vector, each
 * running `check` once per way of feeding it.
 */
export function vectorSuites<V extends VectorBase>(options: SuiteOptions<V>): void {
  const { format, ext, seedVar, check } = options;
  const root = vectorRoot(format);
  const seed = vectorSeed(seedVar);
  for (const kind of ['valid', 'invalid'] as const) {
    const names = readdirSync(`${root}${kind}`)
      .filter((f) => f.endsWith(`.${ext}`))
      .map((f) => f.slice(0, -(ext.length + 1)))
      .sort();
    describe(`${format} ${kind} vectors (${names.length})`, () => {
      it('has vectors', () => assert.ok(names.length > 0, `no vectors in ${root}${kind}`));
      for (const name of names) {
        const bytes = readFileSync(`${root}${kind}/${name}.${ext}`);
        const vector = JSON.parse(readFileSync(`${root}${kind}/${name}.json`, 'utf8')) as V;
        it(`${name}: ${vector.why}`, vector.todo === undefined ? {} : { todo: vector.todo }, async () => {
          const random = vectorRandom(seed, kind, name);
          for (const way of ways(bytes, random)) {
            const where = `${kind}/${name} (${vector.why}), fed ${way.name} [cuts ${way.cuts.join(',')}], ${seedVar}=${seed}`;
            await check({ kind, name, bytes, vector, way, chunks: chunks(bytes, way.cuts), where });
          }
        });
      }
    });
  }
}
