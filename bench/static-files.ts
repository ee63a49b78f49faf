// The files of the static scenarios (static1k, static1m, static100k, static100k-pre):
// written once per bench run into a private temp dir (removed at exit), the same
// bytes every run, and served from there by every server that has a static file
// feature (warpipe's --static, nginx's root) at URL prefix STATIC_PREFIX.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { tempDir } from './procs.js';

export const STATIC_PREFIX = '/static';
/** Every file is this line repeated and cut to its size: readiness looks for it. */
export const STATIC_LINE = 'warpipe bench static file\n';

/** name → size in bytes */
const FILES: Record<string, number> = { '1k.txt': 1024, '1m.txt': 1024 * 1024 };

/**
 * Text that compresses like prose (about 3.5:1 with gzip, where STATIC_LINE repeated compresses 200:1 and would
 * flatter compression): 100 KiB, once alone (compressed per request) and once with FILE.br and FILE.gz beside it.
 */
const TEXT_FILES: Record<string, { size: number; precompressed: boolean }> = {
  '100k.txt': { size: 100 * 1024, precompressed: false },
  'pre100k.txt': { size: 100 * 1024, precompressed: true },
};

const WORDS = (
  'the of and to in is that it for on with as was at by an be this from or have not are but had they which one you were her ' +
  'all she there would their we him been has when who will more no if out so said what up its about into than them can only ' +
  'other new some could time these two may then do first any my now such like our over man me even most made after also did'
).split(' ');

/** STATIC_LINE, then `size` bytes in all of words in a fixed pseudo-random order. */
export function proseFile(size: number): string {
  let x = 1;
  let out = STATIC_LINE;
  while (out.length < size) {
    x = (x * 48271) % 2147483647;
    out += WORDS[x % WORDS.length] + (x % 17 === 0 ? '.\n' : ' ');
  }
  return out.slice(0, size);
}

let root: string | null = null;

/** The directory that holds the files (created on first use). */
export function staticRoot(): string {
  if (root !== null) return root;
  const dir = tempDir('warpipe-bench-static-');
  for (const [name, size] of Object.entries(FILES)) {
    writeFileSync(join(dir, name), STATIC_LINE.repeat(Math.ceil(size / STATIC_LINE.length)).slice(0, size));
  }
  for (const [name, { size, precompressed }] of Object.entries(TEXT_FILES)) {
    const text = proseFile(size);
    writeFileSync(join(dir, name), text);
    if (!precompressed) continue;
    writeFileSync(join(dir, `${name}.br`), brotliCompressSync(text, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    writeFileSync(join(dir, `${name}.gz`), gzipSync(text, { level: 9 }));
  }
  root = dir;
  return dir;
}
