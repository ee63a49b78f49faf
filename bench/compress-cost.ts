// What compressing costs, per coding and level: CPU microseconds per call and
// per KiB, and the size it gives, on real text (a JSON API answer, JavaScript,
// prose) of the sizes responses have; on this thread (the sync call) and on
// libuv's thread pool (the async call, CPU of every thread counted). The numbers
// behind --compress's default levels, its 1 KiB floor and the bound under which a
// whole body is compressed on the event loop (docs/performance.md, "Compression").
//
//   node dist/bench/compress-cost.js [--seconds S] [--quick]
//
// Single-threaded and CPU-bound: run it on an otherwise idle machine.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Coding, hasZstd, type CodingName } from '../src/pipeline/codings.js';
import { proseFile } from './static-files.js';
import { ROOT } from './servers.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 0.4) || 0.4;
const quick = args.includes('--quick');

/** JSON as an API answers it (mime-db's catalogue: keys, strings, arrays), JavaScript (TypeScript's own), prose. */
function samples(): [string, Buffer][] {
  const json = readFileSync(join(ROOT, 'node_modules/mime-db/db.json'));
  const js = readFileSync(join(ROOT, 'node_modules/typescript/lib/typescript.js'));
  const text = Buffer.from(proseFile(256 * 1024));
  const cut = (b: Buffer, kib: number): Buffer => Buffer.from(b.subarray(4096, 4096 + kib * 1024));
  return [
    ['json 1 KiB', cut(json, 1)],
    ['json 4 KiB', cut(json, 4)],
    ['json 10 KiB', cut(json, 10)],
    ['json 64 KiB', cut(json, 64)],
    ['js 16 KiB', cut(js, 16)],
    ['js 100 KiB', cut(js, 100)],
    ['text 100 KiB', cut(text, 100)],
  ];
}

const LEVELS: Record<CodingName, number[]> = quick
  ? { gzip: [5], br: [4], zstd: [3] }
  : { gzip: [1, 3, 4, 5, 6, 9], br: [1, 2, 3, 4, 5, 6, 11], zstd: [1, 2, 3, 6, 9] };

const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

interface Cost {
  /** CPU µs per call (all threads) */
  cpu: number;
  /** wall µs per call */
  wall: number;
  ratio: number;
}

function measureSync(c: Coding, data: Buffer): Cost {
  let out = c.compressSync(data); // warm
  let n = 0;
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  do {
    out = c.compressSync(data);
    n++;
  } while (performance.now() < end);
  const wall = ((performance.now() - t0) * 1000) / n;
  return { cpu: (cpuMicros() - cpu0) / n, wall, ratio: out.length / data.length };
}

async function measureAsync(c: Coding, data: Buffer): Promise<Cost> {
  let out = await c.compress(data);
  let n = 0;
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  do {
    out = await c.compress(data);
    n++;
  } while (performance.now() < end);
  const wall = ((performance.now() - t0) * 1000) / n;
  return { cpu: (cpuMicros() - cpu0) / n, wall, ratio: out.length / data.length };
}

const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function main(): Promise<void> {
  console.log(`node ${process.versions.node}, ${seconds} s per cell; CPU µs per call (per KiB), compressed size as % of the input`);
  console.log('| sample | coding | sync CPU µs (per KiB) | async CPU µs (per KiB) | async wall µs | size |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, data] of samples()) {
    const kib = data.length / 1024;
    for (const coding of ['gzip', 'br', 'zstd'] as const) {
      if (coding === 'zstd' && !hasZstd) continue;
      for (const level of LEVELS[coding]) {
        if (coding === 'br' && level === 11 && kib > 16) continue; // seconds per MiB: never for a response made per request
        const c = new Coding(coding, level);
        const s = measureSync(c, data);
        const a = await measureAsync(c, data);
        console.log(
          `| ${name} | ${c} | ${f(s.cpu)} (${f(s.cpu / kib)}) | ${f(a.cpu)} (${f(a.cpu / kib)}) | ${f(a.wall)} ` +
            `| ${(s.ratio * 100).toFixed(1)} % |`,
        );
      }
    }
  }
}

await main();
