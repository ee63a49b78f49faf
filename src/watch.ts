// --reload: watch the app's source for changes and call back, debounced. For
// development only: it watches whole directory trees with fs.watch (inotify on
// Linux), which is cheap for a project but not for a machine's whole disk.

import { watch, type FSWatcher } from 'node:fs';
import { relative, resolve, sep } from 'node:path';

/** How long the tree must be quiet after a change before the reload (an editor saves in several writes). */
const SETTLE_MS = 200;
const SKIP_DIR = /(^|[\\/])(__pycache__|\.git|\.hg|node_modules|\.venv|venv|\.tox|\.mypy_cache|\.pytest_cache)([\\/]|$)/;

/**
 * A glob as a RegExp over a relative path: `**` spans directories, `*` and `?`
 * stay within one name.
 * @example globToRegExp('templates/**\/*.html').test('templates/a/b.html') // true
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      out += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/**
 * Watch `dirs` (recursively) and call `onChange(path)` once things settle
 * after a change to a .py file or to one matching `extra` (globs relative to
 * `base`). Returns a function that stops watching.
 */
export function watchSources(
  dirs: readonly string[],
  base: string,
  extra: readonly string[],
  onChange: (path: string) => void,
): () => void {
  const patterns = extra.map(globToRegExp);
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | null = null;
  let changed = '';
  const roots = [...new Set([...dirs.map((d) => resolve(d)), ...(extra.length > 0 ? [resolve(base)] : [])])];
  for (const root of roots) {
    const w = watch(root, { recursive: true }, (_event, name) => {
      if (!name) return;
      const full = resolve(root, name.toString());
      if (SKIP_DIR.test(name.toString())) return;
      const rel = relative(base, full).split(sep).join('/');
      if (!full.endsWith('.py') && !patterns.some((p) => p.test(rel))) return;
      changed = full;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        onChange(changed);
      }, SETTLE_MS);
    });
    w.on('error', () => {}); // a directory that vanished: nothing more to watch there
    watchers.push(w);
  }
  return () => {
    if (timer) clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
