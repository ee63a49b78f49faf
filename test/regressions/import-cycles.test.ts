// Issue 12: config/load.ts and config/mount.ts imported each other, and
// apps/fastcgi-upstream.ts closed a second circle through them. No module in
// src/ may reach itself through its imports (type-only imports count: they
// tangle the design as much, even though the compiler erases them).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../helpers/server.js';

/** Each src/ module's relative imports and re-exports, by absolute path. */
function importGraph(src: string): Map<string, string[]> {
  const files = readdirSync(src, { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => join(src, f));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]/gm)]
      .map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    graph.set(file, targets.filter((t) => files.includes(t)));
  }
  return graph;
}

test('no import cycle anywhere in src/', () => {
  const src = join(ROOT, 'src');
  const graph = importGraph(src);
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file)!) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next].map((f) => relative(src, f)).join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assert.ok(graph.size > 50, `read ${graph.size} modules`);
  assert.deepEqual(cycles, []);
});
