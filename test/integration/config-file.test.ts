// --config and `warpipe check`, with the real CLI, real Python workers and real
// files in temp dirs: the TOML example of docs/deploy.md run as written, paths
// relative to the file wherever warpipe starts, one line and exit 2 for a
// mistake, --gateways N whose gateways never read the file again, and `warpipe
// check` importing the app without binding anything.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_PYTHON, runCli, startServer } from '../helpers/server.js';
import { commandLines, snippet, substitute } from '../helpers/snippets.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'warpipe-config-')));
  dirs.push(dir);
  return dir;
}

/** The CLI run to its end, from `cwd`, with `env` added. */
const run = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): ReturnType<typeof runCli> => runCli(args, { cwd, env });

/**
 * GET `url`'s body on a connection of its own, closed after the answer. (A kept-alive idle connection
 * holds a SIGTERM drain until the keep-alive timeout ends it, and the example's is 75 s.)
 */
function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** The TOML example of docs/deploy.md's "One config file". */
function docExample(): string {
  return snippet('docs/deploy.md', 'deploy-config-file').text;
}

/** The site the example describes: a package `mysite`, a virtualenv's python, static files, a logs directory. */
function exampleSite(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'mysite'));
  writeFileSync(join(dir, 'mysite/__init__.py'), '');
  writeFileSync(
    join(dir, 'mysite/wsgi.py'),
    'import os, sys\n\ndef application(environ, start_response):\n' +
      '    start_response("200 OK", [("Content-Type", "text/plain")])\n' +
      '    return [("%s %s %s" % (os.environ.get("SITE_SETTINGS"), os.getcwd(), sys.executable)).encode()]\n',
  );
  mkdirSync(join(dir, 'venv/bin'), { recursive: true });
  symlinkSync(SYSTEM_PYTHON, join(dir, 'venv/bin/python'));
  mkdirSync(join(dir, 'static'));
  writeFileSync(join(dir, 'static/hello.txt'), 'static hello');
  mkdirSync(join(dir, 'logs'));
  writeFileSync(join(dir, 'warpipe.toml'), docExample());
  return dir;
}

test("docs/deploy.md's TOML example, run as written from another directory: its paths are the file's", async () => {
  const dir = exampleSite();
  // only the port moves (the command line wins over the file): 8000 may be taken on a shared machine
  const srv = await startServer(`--config=${dir}/warpipe.toml`, { cwd: '/', args: [] });
  try {
    assert.match(srv.logs(), new RegExp(`python ${dir}/venv/bin/python \\(3\\.\\d+\\.\\d+\\)`), 'the banner names the interpreter');
    assert.match(srv.logs(), new RegExp(`config ${dir}/warpipe\\.toml`));
    assert.equal(await get(srv.url), `production ${dir} ${dir}/venv/bin/python`);
    assert.equal(await get(`${srv.url}/static/hello.txt`), 'static hello');
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  assert.match(readFileSync(join(dir, 'logs/access.log'), 'utf8'), /"GET \/static\/hello\.txt HTTP\/1\.1" 200/);
});

test("docs/deploy.md's two command lines for the file, as written: the file's settings, then the command line's over them", async () => {
  const dir = exampleSite();
  const lines = commandLines(substitute(snippet('docs/deploy.md', 'deploy-config-commands').text, [['/srv/site', dir]]));
  assert.equal(lines.length, 2);
  for (const line of lines) {
    const [command, flag, file, ...rest] = line.split(/\s+/);
    assert.equal(command, 'warpipe');
    // startServer moves the port (the file's 8000 may be taken) and gives --workers 2 before the line's own words
    const srv = await startServer(`${flag}=${file}`, { cwd: '/', args: rest });
    try {
      assert.equal(await get(srv.url), `production ${dir} ${dir}/venv/bin/python`);
      const workers = /(\d+) workers ready/.exec(srv.logs())?.[1];
      assert.equal(workers, rest.includes('--workers') ? '8' : '2');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  }
});

test('warpipe check: prints what it checked, imports the app in a real worker, binds nothing; exit 0', async () => {
  const dir = exampleSite();
  // the port the file names is taken: check must not try to bind it
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    // docs/deploy.md's line, with the port moved to the taken one
    const [command, ...words] = commandLines(substitute(snippet('docs/deploy.md', 'deploy-check').text, [['/srv/site', dir]]))[0]!.split(
      /\s+/,
    );
    assert.equal(command, 'warpipe');
    const r = await run([...words, '--http', `127.0.0.1:${port}`], '/');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^config +${dir}/warpipe\\.toml$`, 'm'));
    assert.match(r.stdout, /^app +mysite\.wsgi:application$/m);
    assert.match(r.stdout, new RegExp(`^python +${dir}/venv/bin/python \\(3\\.\\d+\\.\\d+\\)$`, 'm'));
    assert.match(r.stdout, new RegExp(`^listen +http 127\\.0\\.0\\.1:${port}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^static +/static -> ${dir}/static$`, 'm'));
    assert.match(r.stdout, new RegExp(`^access-log +${dir}/logs/access\\.log$`, 'm'));
    assert.match(
      r.stdout,
      /^ok: the settings are valid, and a worker \(python 3\.\d+\.\d+\) imported mysite\.wsgi:application in [\d.]+ s$/m,
    );
  } finally {
    blocker.close();
  }
});

test('warpipe check: a bad setting is one line and exit 2; an app that fails to import, its traceback and exit 3', async () => {
  const dir = exampleSite();
  const bad = await run(['check', '--config', `${dir}/warpipe.toml`, '--static', '/s=nowhere'], dir);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, `warpipe: --static /s=${dir}/nowhere: ${dir}/nowhere is not a directory\n`);
  const noLogDir = await run(['check', '--config', `${dir}/warpipe.toml`, '--log-file', 'nolog/w.log'], dir);
  assert.equal(noLogDir.code, 2);
  assert.equal(noLogDir.stderr, `warpipe: --log-file ${dir}/nolog/w.log: ${dir}/nolog is not a directory\n`);
  writeFileSync(join(dir, 'mysite/broken.py'), 'import this_module_does_not_exist_either\n');
  const broken = await run(['check', '--config', `${dir}/warpipe.toml`, 'mysite.broken:application'], '/');
  assert.equal(broken.code, 3, broken.stderr);
  assert.match(broken.stderr, /Traceback/);
  assert.match(broken.stderr, /No module named 'this_module_does_not_exist_either'/);
});

test('a mistake in the file: one line naming the file and the line, exit 2, nothing started', async () => {
  const dir = tempDir();
  const file = join(dir, 'w.toml');
  const cases: [string, string][] = [
    ['app = "hello"\nworkers = 2\nkeepalive = 75\n', `${file}:3: keepalive: unknown setting (see warpipe --help)`],
    ['app = "hello"\nworkers = "lots"\n', `${file}:2: workers must be a whole number, or MIN:MAX, got "lots" (see warpipe --help)`],
    [
      'app = "hello"\nworkers = 2\nconfig = "other.toml"\n',
      `${file}:3: config: a config file cannot name another (give one --config) (see warpipe --help)`,
    ],
    ['app = "hello"\nworkers = [2\n', `${file}:3:1: not TOML: expected comma or end of structure`],
  ];
  for (const [toml, line] of cases) {
    writeFileSync(file, toml);
    const r = await run(['--config', file], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `warpipe: ${line}\n`);
  }
  const twice = await run(['--config', file, `--config=${file}`], dir);
  assert.equal(twice.stderr, 'warpipe: --config given twice: one config file at a time (see warpipe --help)\n');
  const missing = await run([], dir, { WARPIPE_CONFIG: join(dir, 'none.toml') });
  assert.equal(missing.stderr, `warpipe: --config ${dir}/none.toml: no such file\n`);
});

test('--gateways 2 from a config file: a gateway started again after the file is gone runs the same config', async () => {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  writeFileSync(
    join(dir, 'gwapp.py'),
    'import os\n\ndef application(e, s):\n    s("200 OK", [])\n    return [str(os.getppid()).encode()]\n',
  );
  mkdirSync(join(dir, 'static'));
  writeFileSync(join(dir, 'static/a.txt'), 'from the file');
  const ctl = join(dir, 'ctl.sock');
  writeFileSync(join(dir, 'w.toml'), 'app = "gwapp.py"\nworkers = 2\ngateways = 2\nstatic = ["/s=static"]\ncontrol = "ctl.sock"\n');
  const srv = await startServer(`--config=${dir}/w.toml`, { cwd: '/' });
  try {
    assert.ok(existsSync(ctl), 'the control socket is where the file says, relative to it');
    const status = await run(['status', '--config', join(dir, 'w.toml')], '/');
    assert.equal(status.code, 0, status.stderr);
    const pids = /\(pids ([\d, ]+)\)/.exec(status.stdout)![1]!.split(', ').map(Number);
    rmSync(join(dir, 'w.toml'));
    process.kill(pids[0]!, 'SIGKILL');
    await srv.waitForLog(/gateway \d \(pid \d+\) serves/);
    const after = await run(['status', '--control', ctl], '/');
    const now = /\(pids ([\d, ]+)\)/.exec(after.stdout)![1]!.split(', ').map(Number);
    assert.equal(now.length, 2);
    assert.ok(!now.includes(pids[0]!));
    // every connection lands on one gateway or the other: both serve the file's static directory
    for (let i = 0; i < 8; i++) assert.equal(await (await fetch(`${srv.url}/s/a.txt`)).text(), 'from the file');
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});
