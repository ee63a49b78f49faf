import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globToRegExp } from './watch.js';

test('globs for --reload-extra: * stays within a name, ** crosses directories, the rest is literal', () => {
  const cases: [string, string, boolean][] = [
    ['*.html', 'index.html', true],
    ['*.html', 'templates/index.html', false],
    ['templates/*.html', 'templates/index.html', true],
    ['templates/**/*.html', 'templates/index.html', true],
    ['templates/**/*.html', 'templates/a/b/c.html', true],
    ['**/*.cfg', 'deep/er/x.cfg', true],
    ['**', 'anything/at/all', true],
    ['conf?.ini', 'conf1.ini', true],
    ['conf?.ini', 'conf/.ini', false],
    ['a.b', 'axb', false],
    ['(x)+[y]', '(x)+[y]', true],
  ];
  for (const [glob, path, want] of cases) assert.equal(globToRegExp(glob).test(path), want, `${glob} vs ${path}`);
});
