// The command line: arguments, boot failures, startup, graceful shutdown, unix sockets.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { CLI, FIXTURES, SYSTEM_PYTHON, requirePeer, runCli, startServer } from '../helpers/server.js';
import { parseResponses } from '../helpers/raw.js';

test('--help lists every option with its environment variable; --version prints the version', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const flag of [
    '--http',
    '--workers',
    '--threads',
    '--python',
    '--chdir',
    '--pythonpath',
    '--env',
    '--validate',
    '--log-level',
    '--limit-request-body',
  ]) {
    assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
  }
  assert.match(help.stdout, /WARPIPE_WORKERS/);
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^warpipe \d+\.\d+\.\d+\n$/);
});

test('bad arguments: one clear line on stderr and exit code 2', async () => {
  const cases: [string[], RegExp][] = [
    [['hello:application', '--bogus'], /unknown option --bogus/],
    [['hello:application', '--workers', 'many'], /--workers must be a whole number, or MIN:MAX, got "many"/],
    [['hello:application', '--workers', '4:2'], /--workers must be MIN:MAX with MIN <= MAX, got "4:2"/],
    [['hello:application', '--workers', '0'], /--workers must be at least 1/],
    [['hello:application', '--http', 'localhost'], /--http is not an address/],
    [['hello:application', '--http', '1.2.3.4:99999'], /port from 0 to 65535/],
    [['hello:application', '--env', 'NOEQUALS'], /KEY=VALUE/],
    [['hello:application', '--static', 'static'], /--static must look like PREFIX=DIR, got "static"/],
    [['hello:application', '--threads'], /--threads needs a value/],
    [[], /no app given/],
    [['a:b', 'c:d'], /one app at a time/],
    [['hello:application', '--chdir', '/nonexistent/dir'], /--chdir \/nonexistent\/dir is not a directory/],
    [['hello:application', '--log-level', 'loud'], /--log-level must be one of/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `exit 2 for ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
});

test('issue 12: "no app given" points at --help once', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'warpipe: no app given: warpipe MODULE:CALLABLE or path/to/app.py[:CALLABLE] (see warpipe --help)\n');
});

test('issue 12: directories that are not there are found before the banner: one line, exit 2', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-`);
  const cases: [string[], string][] = [
    [['--static', '/s=/nonexistent/dir'], '--static /s=/nonexistent/dir: /nonexistent/dir is not a directory'],
    [['--static', `s=${dir}`], `--static s=${dir}: the prefix must start with /`],
    [['--cgi', '/cgi-bin=/nonexistent/cgi'], '--cgi /cgi-bin=/nonexistent/cgi: /nonexistent/cgi is not a directory'],
    [
      ['--mount', '/php=fastcgi://127.0.0.1:9000'],
      '--mount /php=fastcgi://… needs --document-root DIR (or ?root=DIR), the directory its scripts are in; ' +
        '?split=none if the upstream is the app itself',
    ],
    [
      ['--mount', '/php=fastcgi://127.0.0.1:9000', '--document-root', '/nonexistent/www'],
      '--mount /php=fastcgi://…: --document-root /nonexistent/www is not a directory',
    ],
    [
      ['--mount', '/php=fastcgi://127.0.0.1:9000?root=/nonexistent/php'],
      '--mount /php=fastcgi://…: its root /nonexistent/php is not a directory',
    ],
  ];
  for (const [args, line] of cases) {
    const r = await runCli(['hello', '--http', '127.0.0.1:0', ...args]);
    assert.equal(r.code, 2, `exit 2 for ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `warpipe: ${line}\n`, 'one line, and no banner before it');
  }
});

test('an app that fails to import: its traceback and exit 3, not a restart loop', async () => {
  const started = Date.now();
  const r = await runCli(['badimport', '--http', '127.0.0.1:0', '--workers', '2']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /ModuleNotFoundError: No module named 'this_module_does_not_exist'/);
  assert.match(r.stderr, /Traceback/);
  assert.ok(Date.now() - started < 15_000);
  // issue 12: the sockets were bound, but nothing said they were served
  assert.doesNotMatch(r.stderr, /listening on/);
  const missing = await runCli(['hello:nope', '--http', '127.0.0.1:0', '--workers', '1']);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /nope/);
  // issue 12: an interpreter that is not there is a bad argument (2), not an app that failed to boot (3)
  const noPython = await runCli(['hello', '--http', '127.0.0.1:0', '--workers', '1', '--python', '/nonexistent/python3']);
  assert.equal(noPython.code, 2);
  assert.match(noPython.stderr, /\/nonexistent\/python3/);
});

test('issue 12: an interpreter that cannot run is found before the banner: one line, exit 2', async () => {
  const cases: [string[], string][] = [
    [['--python', '/usr/bin/python4'], '--python /usr/bin/python4: no such file'],
    [['--python', `${FIXTURES}hello.py`], `--python ${FIXTURES}hello.py: not an executable file`],
    [
      ['--python', 'python4-no-such'],
      "--python python4-no-such: no such command on PATH (give the interpreter's path, like /usr/bin/python3)",
    ],
    // looked for on the PATH the workers get, and relative to --chdir, as the workers' spawn does
    [
      ['--python', 'python3', '--env', 'PATH=/nonexistent'],
      "--python python3: no such command on PATH (give the interpreter's path, like /usr/bin/python3)",
    ],
    [['--python', './python3', '--chdir', '/usr'], '--python ./python3: no such file'],
  ];
  for (const [args, line] of cases) {
    const r = await runCli(['hello', '--http', '127.0.0.1:0', ...args]);
    assert.equal(r.code, 2, `exit 2 for ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `warpipe: ${line}\n`);
  }
  const relative = await startServer('hello', {
    args: ['--workers', '1', '--chdir', '/usr', '--pythonpath', FIXTURES, '--python', 'bin/python3'],
  });
  assert.equal(await (await fetch(relative.url)).text(), 'Hello, world!');
  assert.equal(await relative.stop(), 0);
});

test('startup says where it listens and how many workers are ready; app spec forms', async () => {
  for (const spec of ['hello', 'hello:application', 'hello.py', `${FIXTURES}hello.py:application`]) {
    const srv = await startServer(spec, { args: ['--workers', '1'] });
    assert.match(srv.logs(), /listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(srv.logs(), /1 worker ready/);
    assert.equal(await (await fetch(srv.url)).text(), 'Hello, world!');
    assert.equal(await srv.stop(), 0);
  }
});

test('--chdir, --pythonpath and --env reach the workers', async () => {
  const srv = await startServer('pep3333:application', {
    cwd: tmpdir(),
    args: ['--chdir', FIXTURES, '--pythonpath', '/opt/extra-path', '--env', 'WARPIPE_TEST_VALUE=forty two'],
  });
  const res = (await (await fetch(`${srv.url}/osenv?WARPIPE_TEST_VALUE`)).json()) as { value: string; cwd: string; path: string[] };
  assert.equal(res.value, 'forty two');
  assert.equal(res.cwd + '/', FIXTURES);
  assert.equal(await srv.stop(), 0);
  const withPath = await startServer('pep3333:application', { args: ['--pythonpath', '/opt/extra-path'] });
  const env = (await (await fetch(`${withPath.url}/osenv?PYTHONPATH`)).json()) as { value: string };
  assert.match(env.value, /^\/opt\/extra-path/);
  assert.equal(await withPath.stop(), 0);
});

test('SIGTERM drains: in-flight requests finish, then exit 0', async () => {
  const srv = await startServer('pep3333:application');
  const inflight = fetch(`${srv.url}/sleep?1`);
  await new Promise((r) => setTimeout(r, 200));
  const stopped = srv.stop('SIGTERM');
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'slept');
  assert.equal(await stopped, 0);
  assert.match(srv.logs(), /SIGTERM: draining/);
});

test('SIGINT drains the same way', async () => {
  const srv = await startServer('hello');
  assert.equal(await srv.stop('SIGINT'), 0);
});

test('--http unix:/path serves on a unix socket with --socket-mode', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-`);
  const path = `${dir}/w.sock`;
  const srv = await startServer('hello', { args: ['--http', `unix:${path}`, '--socket-mode', '600'] });
  assert.ok(existsSync(path));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const bytes = await new Promise<Buffer>((resolve) => {
    const s = net.connect(path);
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('end', () => resolve(Buffer.concat(got)));
    s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  assert.equal(parseResponses(bytes)[0]!.body.toString(), 'Hello, world!');
  assert.equal(await srv.stop(), 0);
});

test('a taken port: one line, exit 1', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  const r = await runCli(['hello', '--http', `127.0.0.1:${port}`]);
  blocker.close();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: address already in use/);
});

test('the README documents every setting, with its environment variable', async () => {
  const { readFileSync } = await import('node:fs');
  const { ROOT } = await import('../helpers/server.js');
  const { settings } = await import('../../src/config/settings.js');
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  for (const s of settings) {
    assert.ok(readme.includes(`\`${s.short ? `${s.short}, ` : ''}${s.flag}`), `README documents ${s.flag}`);
    assert.ok(readme.includes(s.env), `README names ${s.env}`);
  }
});

test('--threads: one worker serves that many requests at once', async () => {
  const srv = await startServer('pep3333:application', { args: ['--workers', '1', '--threads', '3'] });
  const env = (await (await fetch(`${srv.url}/environ`)).json()) as Record<string, unknown>;
  assert.equal(env['wsgi.multithread'], true);
  const started = Date.now();
  const res = await Promise.all([1, 2, 3].map(() => fetch(`${srv.url}/sleep?0.6`)));
  const took = Date.now() - started;
  assert.deepEqual(
    res.map((r) => r.status),
    [200, 200, 200],
  );
  assert.ok(took < 1500, `three 0.6 s requests on 3 threads took ${took} ms`);
  assert.equal(await srv.stop(), 0);
});

test("worker.py's bytecode is cached in warpipe's own private directory, the app's never", async () => {
  const root = mkdtempSync(`${tmpdir()}/warpipe-cache-`);
  const app = mkdtempSync(`${tmpdir()}/warpipe-app-`);
  writeFileSync(
    `${app}/cached_app.py`,
    'def application(environ, start_response):\n    start_response("200 OK", [])\n    return [b"ok"]\n',
  );
  const pycs = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { recursive: true })
          .map(String)
          .filter((f) => f.endsWith('.pyc'))
      : [];
  const serve = async (cache: string): Promise<void> => {
    const srv = await startServer('cached_app:application', { cwd: app, env: { XDG_CACHE_HOME: cache, PYTHONDONTWRITEBYTECODE: '1' } });
    assert.equal(await (await fetch(srv.url)).text(), 'ok');
    assert.equal(await srv.stop(), 0);
  };
  await serve(root);
  const cached = pycs(`${root}/warpipe/pycache`);
  assert.ok(cached.length >= 1 && cached.every((f) => /(^|\/)worker\.cpython-\d+\.pyc$/.test(f)), `only worker.py is cached: ${cached}`);
  assert.equal(statSync(`${root}/warpipe/pycache`).mode & 0o777, 0o700);
  assert.deepEqual(pycs(app), [], 'PYTHONDONTWRITEBYTECODE still holds for the app');
  // a cache directory others may write to is not used
  const open = mkdtempSync(`${tmpdir()}/warpipe-cache-`);
  mkdirSync(`${open}/warpipe/pycache`, { recursive: true });
  chmodSync(`${open}/warpipe/pycache`, 0o777);
  await serve(open);
  assert.deepEqual(pycs(`${open}/warpipe/pycache`), []);
});

test('the warpipe command (the bin file, run by /bin/sh as npm links it) starts node with a capped young generation', async () => {
  const proc = spawn('/bin/sh', [CLI, 'hello:application', '--http', '127.0.0.1:0', '--workers', '1'], {
    cwd: FIXTURES,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  for (let i = 0; i < 200 && !/listening on/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
  // exec: the same pid is now node itself, with the flag from the launcher line
  const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0');
  assert.match(cmdline[0]!, /(^|\/)node$/);
  assert.ok(cmdline.includes('--max-semi-space-size=8'), cmdline.join(' '));
  assert.doesNotMatch(log, /denied|not found/);
  proc.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('a log on a full disk (stderr on /dev/full): warpipe keeps serving', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-`);
  const path = `${dir}/w.sock`;
  const full = openSync('/dev/full', 'w');
  const proc = spawn(process.execPath, [CLI, 'hello', '--http', `unix:${path}`, '--workers', '1', '--log-level', 'debug'], {
    cwd: FIXTURES,
    stdio: ['ignore', full, full],
  });
  closeSync(full);
  try {
    const ask = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = net.connect(path);
        const got: Buffer[] = [];
        s.on('data', (d) => got.push(d));
        s.on('error', reject);
        s.on('end', () => resolve(parseResponses(Buffer.concat(got))[0]!.body.toString()));
        s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
    let answer = '';
    for (let i = 0; i < 200 && !answer; i++) {
      answer = await ask().catch(() => '');
      if (!answer) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(answer, 'Hello, world!');
    for (let i = 0; i < 20; i++) assert.equal(await ask(), 'Hello, world!');
    assert.equal(proc.exitCode, null, 'still running');
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
  assert.equal(proc.exitCode, 0);
});

test('--user/--group: sockets bound as root are handed over, then gateway and workers run as that user', async (t) => {
  if (!requirePeer(t, process.getuid!() === 0, 'root, to change user')) return;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-`);
  const srv = await startServer('pep3333:application', {
    args: [
      '--user',
      'nobody',
      '--group',
      'nogroup',
      '--python',
      SYSTEM_PYTHON,
      '--fastcgi',
      `unix:${dir}/f.sock`,
      '--control',
      `${dir}/ctl.sock`,
    ],
  });
  try {
    await srv.waitForLog(/running as nobody:nogroup/);
    const uidOf = (pid: number): string => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
    assert.equal(uidOf(srv.proc.pid!), '65534');
    const env = (await (await fetch(`${srv.url}/environ`)).json()) as { uid: number; gid: number; pid: number };
    assert.deepEqual([env.uid, env.gid], [65534, 65534]);
    for (const sock of ['f.sock', 'ctl.sock']) {
      const st = statSync(`${dir}/${sock}`);
      assert.deepEqual([st.uid, st.gid], [65534, 65534], sock);
    }
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('--user/--group mistakes: one line, exit 2', async (t) => {
  const unknown = await runCli(['hello', '--user', 'no-such-user-here']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^warpipe: --user no-such-user-here: no such user\n$/);
  const group = await runCli(['hello', '--group', 'no-such-group-here']);
  assert.match(group.stderr, /^warpipe: --group no-such-group-here: no such group\n$/);
  if (!requirePeer(t, process.getuid!() === 0, 'root, to start warpipe as another user')) return;
  // started as nobody, asking to be root
  const proc = spawn(process.execPath, [CLI, 'hello', '--user', 'root'], {
    cwd: FIXTURES,
    uid: 65534,
    gid: 65534,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((r) => proc.on('close', r)); // after the last of its stderr, as 'exit' may not be
  assert.equal(code, 2);
  assert.match(err, /^warpipe: --user\/--group root:root needs warpipe started as root\n$/);
});

test('issue 14: -b and --bind are --http; --help says PREFIX=DIR, has examples; every command answers --help', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-`);
  const srv = await startServer('hello', { args: ['-b', `unix:${dir}/b.sock`, `--bind=unix:${dir}/bind.sock`] });
  try {
    for (const sock of ['b.sock', 'bind.sock']) {
      const bytes = await new Promise<Buffer>((resolve, reject) => {
        const s = net.connect(`${dir}/${sock}`);
        const got: Buffer[] = [];
        s.on('data', (d) => got.push(d));
        s.on('error', reject);
        s.on('end', () => resolve(Buffer.concat(got)));
        s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      assert.equal(parseResponses(bytes)[0]!.body.toString(), 'Hello, world!', sock);
    }
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  const help = await runCli(['--help']);
  assert.match(help.stdout, /^ {2}-b, --http ADDRESS$/m);
  assert.match(help.stdout, /^ {2}--static PREFIX=DIR$/m);
  assert.match(help.stdout, /^ {2}--cgi PREFIX=DIR$/m);
  assert.match(help.stdout, /^ {2}--env KEY=VALUE$/m);
  assert.match(help.stdout, /^ {2}--config PATH$/m);
  assert.match(help.stdout, /^Examples:\n {2}warpipe /m);
  for (const command of ['status', 'reload', 'check']) {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([command, flag]);
      assert.equal(r.code, 0, `${command} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: warpipe ${command} `), `${command} ${flag}`);
      assert.equal(r.stderr, '');
    }
  }
});

test('issue 14: a first word that is neither a command nor an app: one line, exit 2, no server', async () => {
  const r = await runCli(['stop', '--control', 'ops/control.sock']);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^warpipe: unknown command "stop" \(commands: status, reload, check\), and no app stop: no stop\.py or stop\/ in /,
  );
  assert.equal(r.stderr.split('\n').length, 2, 'one line');
  assert.doesNotMatch(r.stderr, /warpipe \d+\.\d+\.\d+: app/, 'no banner: nothing started');
  // a module of that name in the app's directory is the app, as before (here it goes on to the next check)
  const moduleHere = await runCli(['hello', '--python', '/nonexistent/python3']);
  assert.equal(moduleHere.stderr, 'warpipe: --python /nonexistent/python3: no such file\n');
});

test('issue 14: the banner names the interpreter the workers run, by its absolute path, with its version', async () => {
  const srv = await startServer('hello', { args: ['--workers', '1', '--python', 'python3'] });
  try {
    const m = /python (\/\S+) \((\d+\.\d+\.\d+)\), node /.exec(srv.logs());
    assert.ok(m, srv.logs());
    const found = spawnSync(m[1]!, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' });
    assert.equal(found.stdout.trim(), m[2]);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('issue 14: --user cannot run the python3 root finds first on PATH: the workers run the next one, and a warning says so', async (t) => {
  if (!requirePeer(t, process.getuid!() === 0, 'root, to run warpipe as another user')) return;
  // a real interpreter in a 0700 directory of root's, first on PATH, as a pyenv under /root is
  const hidden = mkdtempSync(`${tmpdir()}/warpipe-pyenv-`);
  chmodSync(hidden, 0o700);
  mkdirSync(`${hidden}/bin`);
  symlinkSync(SYSTEM_PYTHON, `${hidden}/bin/python3`);
  const app = mkdtempSync(`${tmpdir()}/warpipe-app-`);
  chmodSync(app, 0o755);
  writeFileSync(
    `${app}/which.py`,
    'import os, sys\n\ndef application(environ, start_response):\n    start_response("200 OK", [])\n' +
      '    return [("%s %d" % (sys.executable, os.getuid())).encode()]\n',
  );
  const path = `${hidden}/bin:/usr/bin:/bin`;
  const srv = await startServer('which:application', {
    cwd: app,
    env: { PATH: path },
    args: ['--workers', '1', '--user', 'nobody', '--python', 'python3'],
  });
  try {
    const logs = srv.logs();
    assert.match(logs, /python \/usr\/bin\/python3 \(3\.\d+\.\d+\)/, logs);
    assert.match(
      logs,
      new RegExp(
        `WARNING\\] --python python3: --user nobody:\\S+ cannot run ${hidden}/bin/python3, the first on PATH \\(EACCES\\); ` +
          'the workers run /usr/bin/python3 \\(3\\.\\d+\\.\\d+\\), the next python3 on PATH',
      ),
      logs,
    );
    assert.equal(await (await fetch(srv.url)).text(), '/usr/bin/python3 65534');
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  // none the user can run: one line, exit 2
  const none = await runCli(['which:application', '--user', 'nobody', '--python', 'python3', '--env', `PATH=${hidden}/bin`], { cwd: app });
  assert.equal(none.code, 2);
  assert.match(
    none.stderr,
    new RegExp(`^warpipe: --python python3: --user nobody:\\S+ can run no python3 on PATH \\(${hidden}/bin/python3: EACCES\\)\n$`),
  );
  const named = await runCli(['which:application', '--user', 'nobody', '--python', `${hidden}/bin/python3`], { cwd: app });
  assert.equal(named.code, 2);
  assert.match(named.stderr, /cannot run it \(EACCES\)\n$/);
});

test('issue 14: --static, --log-file and --access-log given relative are relative to --chdir, as the app is', async () => {
  const site = mkdtempSync(`${tmpdir()}/warpipe-site-`);
  mkdirSync(`${site}/static`);
  writeFileSync(`${site}/static/a.txt`, 'A');
  writeFileSync(`${site}/siteapp.py`, 'def application(e, s):\n    s("200 OK", [])\n    return [b"app"]\n');
  const srv = await startServer('siteapp', {
    cwd: tmpdir(),
    args: ['--chdir', site, '--static', '/s=static', '--access-log', 'access.log', '--workers', '1'],
  });
  try {
    assert.equal(await (await fetch(`${srv.url}/s/a.txt`)).text(), 'A');
    assert.equal(await (await fetch(srv.url)).text(), 'app');
  } finally {
    assert.equal(await srv.stop(), 0);
  }
  assert.match(readFileSync(`${site}/access.log`, 'utf8'), /GET \/s\/a\.txt/);
});

test('issue 14: warpipe check imports the app as --user, in a worker of its own', async (t) => {
  if (!requirePeer(t, process.getuid!() === 0, 'root, to run warpipe as another user')) return;
  const app = mkdtempSync(`${tmpdir()}/warpipe-app-`);
  chmodSync(app, 0o755);
  writeFileSync(`${app}/whoami_app.py`, 'import os\nprint("imported as uid", os.getuid())\n\ndef application(e, s):\n    pass\n');
  const r = await runCli(['check', 'whoami_app:application', '--user', 'nobody', '--python', SYSTEM_PYTHON], { cwd: app });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /imported as uid 65534/);
  assert.match(r.stdout, /^python +\/usr\/bin\/python3 \(3\.\d+\.\d+\), run as nobody:/m);
  assert.match(r.stdout, /^ok: /m);
});

test('issue 14: an interpreter too old for worker.py, or no Python at all: one line, exit 2, before the banner', async (t) => {
  const cases: [string, string][] = [
    ['/bin/true', '--python /bin/true: cannot run it: it is not a Python interpreter'],
    ['/bin/false', '--python /bin/false: cannot run it: it exited with code 1'],
  ];
  for (const [python, line] of cases) {
    const r = await runCli(['hello', '--http', '127.0.0.1:0', '--python', python]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `warpipe: ${line}\n`);
  }
  // pyenv's old CPythons, where this machine has them. Not a peer CI installs (Debian has no CPython
  // older than its own), so their absence skips this part even under CI=true.
  const old = ['2.7.18', '3.8.18'].map((v) => [v, `/root/.pyenv/versions/${v}/bin/python`] as const);
  if (!old.every(([, path]) => existsSync(path))) {
    console.log('# SKIP: no pyenv CPython 2.7.18 and 3.8.18 under /root/.pyenv');
    t.skip('no pyenv CPython 2.7.18 and 3.8.18 under /root/.pyenv');
    return;
  }
  for (const [version, python] of old) {
    const r = await runCli(['hello', '--http', '127.0.0.1:0', '--python', python]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `warpipe: --python ${python} is Python ${version}; the workers need Python 3.9 or newer\n`);
  }
});
