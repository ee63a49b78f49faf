// `npm test` after the build: lint and the format check (scripts/lint.mjs), the
// Node suite, then pytest for the worker, each run whatever the others did; exits
// 1 if any failed. The spec reporter ends with the failing tests listed, so a
// failure is found without grepping TAP.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.error) process.stderr.write(`${cmd}: ${r.error.message}\n`);
  return r.status ?? 1;
};

const lint = run(process.execPath, ['scripts/lint.mjs', '--check-format']);
// The test files by name: Node 20 runs a directory given to --test, Node 22 and 24 take their
// arguments as files or globs (and run `dist/` as one empty test), and Node 20 has no globs.
const testFiles = readdirSync('dist', { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .map((f) => join('dist', f))
  .sort();
if (testFiles.length === 0) {
  process.stderr.write('npm test: no dist/**/*.test.js: did the build run?\n');
  process.exit(1);
}
const node = run(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...testFiles]);
const python = run('python3', ['-m', 'pytest', '-q', 'python/tests']);
if (lint !== 0 || node !== 0 || python !== 0) {
  process.stderr.write(
    `\nnpm test: ${lint !== 0 ? 'lint or the format check failed (at the top; npm run lint, npm run format)' : 'lint passed'}; ` +
      `${node !== 0 ? 'the Node tests failed (their failures are listed above the pytest run)' : 'the Node tests passed'}; ` +
      `${python !== 0 ? 'pytest failed' : 'pytest passed'}\n`,
  );
  process.exit(1);
}
