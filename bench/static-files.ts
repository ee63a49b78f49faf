// The files of the static scenarios (static1k, static1m): written once per bench
// run into a private temp dir (removed at exit), the same bytes every run, and
// served from there by every server that has a static file feature (warpipe's
// --static, nginx's root) at URL prefix STATIC_PREFIX.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './procs.js';

export const STATIC_PREFIX = '/static';
/** Every file is this line repeated and cut to its size: readiness looks for it. */
export const STATIC_LINE = 'warpipe bench static file\n';

/** name → size in bytes */
const FILES: Record<string, number> = { '1k.txt': 1024, '1m.txt': 1024 * 1024 };

let root: string | null = null;

/** The directory that holds the files (created on first use). */
export function staticRoot(): string {
  if (root !== null) return root;
  const dir = tempDir('warpipe-bench-static-');
  for (const [name, size] of Object.entries(FILES)) {
    writeFileSync(join(dir, name), STATIC_LINE.repeat(Math.ceil(size / STATIC_LINE.length)).slice(0, size));
  }
  root = dir;
  return dir;
}
