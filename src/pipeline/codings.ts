// The content codings warpipe compresses with (RFC 9110 §8.4.1): gzip, br and,
// where the running Node has it (22.15+, 23.8+), zstd, each at one level, and
// how `--compress` names them. A coding compresses a whole body (on the event
// loop when it is small, on libuv's thread pool when it is not: docs/performance.md,
// "Compression") or a stream, block by block, each block flushed so the client
// can decode it at once (PEP 3333 forbids holding a block back).

import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { ConfigCheckError, ConfigError } from '../errors.js';

export type CodingName = 'br' | 'zstd' | 'gzip';

/** A compressor stream: a zlib Transform whose flush(kind, callback) ends the block so far. */
export type CompressStream = Transform & { flush(kind: number, callback: () => void): void };

interface Codec {
  /** Levels a user may give: [lowest, highest]. */
  readonly levels: readonly [number, number];
  readonly defaultLevel: number;
  /** CPU microseconds per KiB of JSON or JavaScript at each level (index), measured (docs/performance.md, "Compression"). */
  readonly cost: readonly number[];
  /** The flush that makes every byte written so far decodable (gzip Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH, ZSTD_e_flush). */
  readonly flushKind: number;
  sync(data: Buffer, level: number): Buffer;
  async(data: Buffer, level: number, done: (err: Error | null, out: Buffer) => void): void;
  stream(level: number): CompressStream;
}

// Node 22.15+ / 23.8+ only; @types/node 20 does not know them
interface ZstdZlib {
  zstdCompressSync(data: Buffer, options: object): Buffer;
  zstdCompress(data: Buffer, options: object, done: (err: Error | null, out: Buffer) => void): void;
  createZstdCompress(options: object): CompressStream;
}
const z = zlib as typeof zlib & Partial<ZstdZlib>;
const C = zlib.constants as typeof zlib.constants & Record<string, number>;

/** Whether this Node compresses zstd. */
export const hasZstd = typeof z.createZstdCompress === 'function';

const brotliParams = (level: number, size?: number): zlib.BrotliOptions => ({
  params: {
    [C.BROTLI_PARAM_QUALITY]: level,
    ...(size === undefined ? {} : { [C.BROTLI_PARAM_SIZE_HINT]: size }),
  },
});
const zstdParams = (level: number): object => ({ params: { [C.ZSTD_c_compressionLevel!]: level } });

// Default levels and costs per KiB: measured on JSON, JavaScript and prose of 1 to 100 KiB (bench/compress-cost.ts,
// docs/performance.md "Compression"): br 3 and gzip 4 are where the size stops shrinking faster than the CPU grows
// (br 4 costs 1.5-2x br 3 for 1-2 % less; gzip 5 and 6 up to 2x gzip 4 for 0-3 %). Levels not measured (zstd
// above 9, br 7-10, gzip 2, 7, 8) are interpolated.
const codecs: Record<CodingName, Codec> = {
  gzip: {
    levels: [1, 9],
    defaultLevel: 4,
    cost: [0, 4, 5, 6, 7, 9, 15, 20, 30, 50],
    flushKind: C.Z_SYNC_FLUSH,
    sync: (data, level) => zlib.gzipSync(data, { level }),
    async: (data, level, done) => zlib.gzip(data, { level }, done),
    stream: (level) => zlib.createGzip({ level }),
  },
  br: {
    levels: [0, 11],
    defaultLevel: 3,
    cost: [2, 3, 5, 6, 10, 15, 15, 25, 35, 50, 500, 1000],
    flushKind: C.BROTLI_OPERATION_FLUSH,
    sync: (data, level) => zlib.brotliCompressSync(data, brotliParams(level, data.length)),
    async: (data, level, done) => zlib.brotliCompress(data, brotliParams(level, data.length), done),
    stream: (level) => zlib.createBrotliCompress(brotliParams(level)),
  },
  zstd: {
    levels: [1, 19],
    defaultLevel: 3,
    cost: [0, 3, 3.5, 4, 5, 6, 8, 10, 12, 15, 18, 22, 26, 40, 50, 60, 80, 100, 130, 170],
    flushKind: C.ZSTD_e_flush ?? 1,
    sync: (data, level) => z.zstdCompressSync!(data, zstdParams(level)),
    async: (data, level, done) => z.zstdCompress!(data, zstdParams(level), done),
    stream: (level) => z.createZstdCompress!(zstdParams(level)),
  },
};

/**
 * How long a whole body may keep the event loop compressing it: below this, the call on the event loop is
 * cheaper in CPU than a trip to the thread pool, and no other client waits noticeably (docs/performance.md).
 */
export const SYNC_BUDGET_MICROS = 100;

/** One coding at one level. */
export class Coding {
  readonly flushKind: number;
  /** Whole bodies up to this many bytes are compressed on the event loop (about SYNC_BUDGET_MICROS of CPU). */
  readonly syncMax: number;
  private readonly codec: Codec;

  constructor(
    readonly name: CodingName,
    readonly level: number = codecs[name].defaultLevel,
  ) {
    this.codec = codecs[name];
    this.flushKind = this.codec.flushKind;
    this.syncMax = Math.floor((SYNC_BUDGET_MICROS / (this.codec.cost[level] ?? 1000)) * 1024);
  }

  /** The whole body, compressed on this thread. */
  compressSync(data: Buffer): Buffer {
    return this.codec.sync(data, this.level);
  }

  /** The whole body, compressed on libuv's thread pool. */
  compress(data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => this.codec.async(data, this.level, (err, out) => (err ? reject(err) : resolve(out))));
  }

  /** A compressor for a streamed body. */
  stream(): CompressStream {
    return this.codec.stream(this.level);
  }

  toString(): string {
    return `${this.name}:${this.level}`;
  }
}

/** The codings `--compress on` offers, in order of preference: br, zstd where this Node has it, gzip. */
export function defaultCodings(zstd = hasZstd): Coding[] {
  return (['br', 'zstd', 'gzip'] as const).filter((n) => n !== 'zstd' || zstd).map((n) => new Coding(n));
}

/**
 * `--compress`: `on` (the default codings), `off`, or a comma-separated list of NAME[:LEVEL] (br, zstd,
 * gzip), in the order preferred when a client accepts several equally. A bad list is a ConfigError; zstd on a
 * Node without it a ConfigCheckError.
 * @example parseCompress('gzip:6,br') // [Coding gzip:6, Coding br:3]
 */
export function parseCompress(text: string, zstd = hasZstd): Coding[] {
  const value = text.trim().toLowerCase();
  if (value === 'on' || value === 'true' || value === 'yes' || value === '1') return defaultCodings(zstd);
  if (value === 'off' || value === 'false' || value === 'no' || value === '0' || value === '') return [];
  const out: Coding[] = [];
  for (const item of value.split(',')) {
    const m = /^\s*(br|zstd|gzip)(?::(\d+))?\s*$/.exec(item);
    if (m === null) {
      throw new ConfigError(`--compress must be on, off, or a list of br, zstd, gzip (each with :LEVEL if wanted), got "${text}"`);
    }
    const name = m[1] as CodingName;
    const [lo, hi] = codecs[name].levels;
    const level = m[2] === undefined ? codecs[name].defaultLevel : Number(m[2]);
    if (level < lo || level > hi) throw new ConfigError(`--compress: the ${name} level must be ${lo} to ${hi}, got ${m[2]}`);
    if (out.some((c) => c.name === name)) throw new ConfigError(`--compress names ${name} twice`);
    if (name === 'zstd' && !zstd) {
      throw new ConfigCheckError(
        `--compress zstd needs Node 22.15 or later (this is Node ${process.versions.node}); leave zstd out, or use --compress on`,
      );
    }
    out.push(new Coding(name, level));
  }
  return out;
}
