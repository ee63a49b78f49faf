// `npm test` after the build: the Node suite, then pytest for the worker, each
// run whatever the other did; exits 1 if either failed. The spec reporter ends
// with the failing tests listed, so a failure is found without grepping TAP.
import { spawnSync } from 'node:child_process';

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.error) process.stderr.write(`${cmd}: ${r.error.message}\n`);
  return r.status ?? 1;
};

const node = run(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', 'dist/']);
const python = run('python3', ['-m', 'pytest', '-q', 'python/tests']);
if (node !== 0 || python !== 0) {
  process.stderr.write(`\nnpm test: ${node !== 0 ? 'the Node tests failed (their failures are listed above the pytest run)' : 'the Node tests passed'}; ` +
    `${python !== 0 ? 'pytest failed' : 'pytest passed'}\n`);
  process.exit(1);
}
