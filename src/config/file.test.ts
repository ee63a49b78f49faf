// --config: a real TOML file in a temp dir, read through loadConfig as the CLI reads it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigCheckError, ConfigError } from '../errors.js';
import { keyLines } from './file.js';
import { loadConfig, type Config } from './load.js';

function site(toml: string): { dir: string; file: string } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'warpipe-toml-')));
  for (const sub of ['static', 'cgi-bin', 'lib', 'app']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'app', 'site.py'), 'def application(e, s):\n    s("200 OK", [])\n    return [b"ok"]\n');
  const file = join(dir, 'warpipe.toml');
  writeFileSync(file, toml);
  return { dir, file };
}

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Readonly<Config> {
  const action = loadConfig(argv, env);
  assert.ok(action.action === 'serve' || action.action === 'check');
  return action.config;
}

/** The one-line message of what `loadConfig` throws. */
function failure(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal((err as Error).message.includes('\n'), false, 'one line');
    return (err as Error).message;
  }
  return assert.fail(`${argv.join(' ')} was accepted`);
}

test('keys are the long option names; lists for repeatable ones; values read as their flags are', () => {
  const { dir, file } = site(
    [
      'app = "app/site.py"',
      'workers = "2:4"',
      'keepalive-timeout = 75',
      'preload = true',
      'socket-mode = 0o640',
      'limit-request-body = "10M"',
      'bind = ["127.0.0.1:0", "unix:run/w.sock"]',
      'static = { "/static" = "static" }',
      'cgi = ["/cgi-bin=cgi-bin"]',
      'pythonpath = ["lib"]',
      'chdir = "app"',
      'log-file = "logs/warpipe.log"',
      'access-log = "-"',
      'env = ["A=1"]',
    ].join('\n'),
  );
  const c = config([`--config=${file}`], {});
  assert.equal(c.config, file);
  assert.equal(c.app, join(dir, 'app/site.py'), 'a .py app is relative to the file');
  assert.deepEqual([c.workers, c.maxWorkers, c.keepaliveTimeout, c.preload, c.socketMode], [2, 4, 75, true, 0o640]);
  assert.equal(c.limitRequestBody, 10 << 20);
  assert.deepEqual(c.http, [
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    { kind: 'unix', path: join(dir, 'run/w.sock') },
  ]);
  assert.deepEqual(c.static, [['/static', join(dir, 'static')]]);
  assert.deepEqual(c.cgi, [['/cgi-bin', join(dir, 'cgi-bin')]]);
  assert.deepEqual(c.pythonpath, [join(dir, 'lib')]);
  assert.equal(c.chdir, join(dir, 'app'));
  assert.equal(c.logFile, join(dir, 'logs/warpipe.log'));
  assert.equal(c.accessLog, '-');
  assert.deepEqual(c.env, [['A', '1']]);
  assert.equal(c.configText?.startsWith('app = '), true);
});

test('the command line wins, then WARPIPE_*, then the file, then the defaults; relative paths outside the file follow --chdir', () => {
  const { dir, file } = site('app = "site:application"\nworkers = 3\nthreads = 2\nbacklog = 7\nstatic = ["/s=static"]\n');
  const c = config(['--config', file, '--workers', '5', '--static', '/t=static', '--chdir', dir], { WARPIPE_THREADS: '4' });
  assert.deepEqual([c.workers, c.threads, c.backlog, c.pipeline], [5, 4, 7, 8]);
  assert.deepEqual(c.static, [['/t', join(dir, 'static')]], 'the command line list replaces the file list, from --chdir');
  assert.equal(c.app, 'site:application');
  assert.equal(config(['--config', file, 'other:app']).app, 'other:app', 'an app on the command line wins over the file');
  assert.equal(config(['--config', file], { WARPIPE_APP: 'env:app' }).app, 'env:app');
  assert.equal(config([], { WARPIPE_CONFIG: file }).workers, 3, 'WARPIPE_CONFIG names the file');
  assert.equal(config(['--config', file], { WARPIPE_CONFIG: '/nonexistent.toml' }).workers, 3, '--config wins over it');
});

test('mistakes name the file and the line: one line each', () => {
  const cases: [string, RegExp][] = [
    ['app = "a:b"\n\n# a comment\nwrokers = 4\n', /warpipe\.toml:4: wrokers: unknown setting$/],
    ['app = "a:b"\nworkers = "many"\n', /warpipe\.toml:2: workers must be a whole number, or MIN:MAX, got "many"$/],
    ['app = "a:b"\n"threads" = 0\n', /warpipe\.toml:2: threads must be at least 1, got "0"$/],
    ['app = "a:b"\nthreads = true\n', /warpipe\.toml:2: threads must be a number, got true$/],
    ['app = "a:b"\nhttp = "127.0.0.1:0"\nworkers = [1, 2]\n', /warpipe\.toml:3: workers takes one value, got a list$/],
    ['app = "a:b"\n[server]\nworkers = 2\n', /warpipe\.toml:2: server: unknown setting$/],
    ['app = "a:b"\naccess-log-format = """\nlog = 2\n"""\nlog.level = 1\n', /warpipe\.toml:5: log: unknown setting$/],
    ['app = "a:b"\nconfig = "other.toml"\n', /warpipe\.toml:2: config: a config file cannot name another/],
    ['app = 4\n', /warpipe\.toml:1: app must be the app as text/],
    ['app = "a:b"\nhttp = ["127.0.0.1:0"]\nbind = ["127.0.0.1:1"]\n', /warpipe\.toml:3: bind: the same setting as http; give one of them$/],
    ['app = "a:b"\nstatic = ["/s=nowhere"]\n', /warpipe\.toml:2: --static \/s=\S+\/nowhere: \S+\/nowhere is not a directory$/],
    ['app = "a:b"\npython = "bin/python9"\n', /warpipe\.toml:2: --python \S+\/bin\/python9: no such file$/],
    ['app = "a:b"\nworkers = 4\nworkers = 5\n', /warpipe\.toml:\d+:\d+: not TOML: /],
    ['app = "a:b"\nworkers = = 4\n', /warpipe\.toml:2:\d+: not TOML: /],
  ];
  for (const [toml, message] of cases) assert.match(failure(['--config', site(toml).file]), message, toml);
  assert.match(failure(['--config', '/nonexistent/w.toml']), /^--config \/nonexistent\/w\.toml: no such file$/);
  const { file } = site('app = "a:b"\n');
  assert.match(failure(['--config', file, '--config', file]), /^--config given twice/);
  // what the machine lacks is a ConfigCheckError (no --help hint); a bad key is a ConfigError
  assert.throws(() => loadConfig(['--config', '/nonexistent/w.toml'], {}), ConfigCheckError);
});

test('keyLines: bare, quoted and dotted keys, table headers; not the lines of a multi-line string, nor keys inside a table', () => {
  const lines = keyLines(
    [
      'workers = 2',
      '"keepalive-timeout" = 5',
      "'log-level' = 'debug'",
      'a.b = 1',
      'text = """',
      'threads = 9',
      '"""',
      "lit = '''one line'''",
      'backlog = 3',
      '[table]',
      'inner = 1',
      '[[list]]',
    ].join('\n'),
  );
  assert.deepEqual(Object.fromEntries(lines), {
    workers: 1,
    'keepalive-timeout': 2,
    'log-level': 3,
    a: 4,
    text: 5,
    lit: 8,
    backlog: 9,
    table: 10,
    list: 12,
  });
});

test('a first word that is no command and no app is an unknown command; one that names a module here is the app', () => {
  assert.match(failure(['stop', '--control', 'ops/control.sock']), /^unknown command "stop" \(commands: status, reload, check\)/);
  const { dir } = site('');
  assert.equal(config(['site', '--chdir', join(dir, 'app')]).app, 'site');
  assert.equal(config(['site', '--pythonpath', join(dir, 'app')]).app, 'site');
  assert.equal(config(['app', '--chdir', dir]).app, 'app', 'a package (a directory)');
  assert.equal(config(['--workers', '1', 'stop']).app, 'stop', 'not in the first position: the app, even if it will not import');
});
