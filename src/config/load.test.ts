import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type Config } from './load.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Readonly<Config> {
  const action = loadConfig(argv, env);
  assert.equal(action.action, 'serve');
  return (action as { config: Readonly<Config> }).config;
}

test('defaults, flags, = syntax, repeatable options, sizes', () => {
  const c = config([
    'app:application',
    '-w',
    '3',
    '--threads=2',
    '--http',
    '0.0.0.0:80',
    '--http',
    'unix:/tmp/s',
    '--env',
    'A=1=2',
    '--limit-request-body',
    '10M',
    '--validate',
  ]);
  assert.equal(c.app, 'app:application');
  assert.equal(c.workers, 3);
  assert.equal(c.threads, 2);
  assert.deepEqual(c.http, [
    { kind: 'tcp', host: '0.0.0.0', port: 80 },
    { kind: 'unix', path: '/tmp/s' },
  ]);
  assert.deepEqual(c.env, [['A', '1=2']]);
  assert.equal(c.limitRequestBody, 10 << 20);
  assert.equal(c.validate, true);
  assert.equal(c.logLevel, 20);
  assert.ok(Object.isFrozen(c));
  assert.deepEqual(config(['x:app']).http, [{ kind: 'tcp', host: '127.0.0.1', port: 8000 }]);
});

test('environment variables fill in what the command line leaves out; the command line wins', () => {
  const c = config(['x:app', '--threads', '4'], {
    WARPIPE_THREADS: '9',
    WARPIPE_WORKERS: '5',
    WARPIPE_LOG_LEVEL: 'debug',
    WARPIPE_HTTP: '127.0.0.1:1, 127.0.0.1:2',
  });
  assert.equal(c.threads, 4);
  assert.equal(c.workers, 5);
  assert.equal(c.logLevel, 10);
  assert.equal(c.http.length, 2);
  assert.equal(config([], { WARPIPE_APP: 'envapp' }).app, 'envapp');
  assert.throws(() => loadConfig(['x:app'], { WARPIPE_WORKERS: 'lots' }), /WARPIPE_WORKERS must be a whole number/);
});

test('app specs and help/version', () => {
  for (const ok of ['m', 'pkg.mod:app', 'mod:obj.attr', 'mod:create_app()', 'path/to/file.py', 'file.py:app']) config(['--threads=1', ok]);
  for (const bad of ['mod:1app', 'mod:app(x)', 'mod:']) assert.throws(() => loadConfig([bad], {}), /is not MODULE:CALLABLE/);
  assert.deepEqual(loadConfig(['--help'], {}), { action: 'help' });
  assert.deepEqual(loadConfig(['x', '--version'], {}), { action: 'version' });
  assert.deepEqual(loadConfig(['check', '-h'], {}), { action: 'help', command: 'check' });
});
