// Installing warpipe outside the checkout, as README "Install" says: `npm pack`
// makes a tarball with what the command needs at run time and nothing else;
// `npm install -g` of that tarball (into a scratch prefix) and of the clone
// itself gives a `warpipe` command that serves an app from another directory;
// the tarball installed into a project gives `import { startGateway } from
// 'warpipe'`. Dependencies come from npm's cache (`npm ci` filled it) or the
// registry. The tarball is packed from the `dist/` this run built
// (--ignore-scripts: a `prepare` here would rebuild dist/ under the other tests).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, requirePeer } from '../helpers/server.js';

const run = promisify(execFile);
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const scratch = mkdtempSync(join(tmpdir(), 'warpipe-install-'));
const site = join(scratch, 'site');
let tarball = '';
let packed: string[] = [];
let npmError = '';

const APP = `def application(environ, start_response):
    body = ("hello from %s, %s" % (environ["SCRIPT_NAME"] or "/", environ.get("HTTP_X_REQUEST_ID", "no id"))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`;

/** npm, with the cache `npm ci` filled (the registry only for what it lacks). */
async function npm(args: string[], cwd: string = ROOT): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd,
    timeout: 180_000,
    maxBuffer: 16 << 20,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  return stdout;
}

before(async () => {
  mkdirSync(site);
  writeFileSync(join(site, 'site_app.py'), APP);
  try {
    const out = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', scratch]);
    const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
    tarball = join(scratch, info!.filename);
    packed = info!.files.map((f) => f.path);
  } catch (err) {
    npmError = (err as Error).message;
  }
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Run an installed `warpipe` in the site's directory, ask it one request, stop it. */
async function serveOnce(command: string): Promise<{ body: string; id: string | null; code: number | null }> {
  const proc = spawn(
    command,
    ['site_app.py', '--http', '127.0.0.1:0', '--workers', '1', '--middleware', join(ROOT, 'examples/request-id.mjs')],
    { cwd: site, env: { ...process.env, WARPIPE_NODE: process.execPath }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const onText = (chunk: Buffer): void => {
      log += chunk.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*1 worker ready/.exec(log);
      if (m) resolve(m[1]!);
    };
    proc.stderr.on('data', onText);
    proc.stdout.on('data', onText);
    void exited.then((code) => reject(new Error(`${command} exited (${code}):\n${log}`)));
  });
  try {
    const res = await fetch(await ready);
    const body = await res.text();
    proc.kill('SIGTERM');
    return { body, id: res.headers.get('x-request-id'), code: await exited };
  } finally {
    proc.kill('SIGKILL');
  }
}

test('the packed tarball holds what the command needs at run time, and no tests or benchmarks', (t) => {
  if (!requirePeer(t, npmError === '', `npm pack: ${npmError}`)) return;
  for (const needed of ['package.json', 'dist/src/cli.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'python/worker.py', 'README.md']) {
    assert.ok(packed.includes(needed), `${needed} is packed`);
  }
  assert.ok(packed.includes('dist/src/workers/python.js') && packed.includes('docs/embedding.md'));
  const unwanted = packed.filter((p) => /(^|\/)(test|tests|bench)\/|\.(test|bench)\.|\.map$|fakes\.|^examples\/|^src\//.test(p));
  assert.deepEqual(unwanted, []);
});

/** The commands of the fence under `<!-- snippet NAME: … -->` in `file`, comments and blank lines dropped. */
function snippetLines(file: string, name: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const at = text.indexOf(`<!-- snippet ${name}: test/integration/install.test.ts -->\n\`\`\`sh\n`);
  assert.ok(at >= 0, `${file} has the snippet ${name}`);
  const start = text.indexOf('```sh\n', at) + 6;
  return text
    .slice(start, text.indexOf('\n```', start))
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

test("README's and deploy.md's install steps, as written: the tarball installed with -g, warpipe on PATH", async (t) => {
  if (!requirePeer(t, npmError === '', `npm pack: ${npmError}`)) return;
  const readme = snippetLines('README.md', 'readme-install');
  const deploy = snippetLines('docs/deploy.md', 'deploy-install');
  // the build and pack: `npm ci` built dist/ before this run, and `npm pack` made the tarball above (its name is the docs')
  assert.equal(readme[0], 'cd warpipe && npm ci && npm pack');
  assert.equal(deploy[0], 'npm ci && npm pack');
  const install = readme[1]!;
  assert.equal(deploy[1], install, 'the same install line in both');
  assert.match(install, /^sudo npm install -g --prefix \/usr\/local \.\/warpipe-[\d.]+\.tgz$/);
  assert.ok(existsSync(join(scratch, install.split(' ').at(-1)!)), `${install}: npm pack made that file`);
  // paths aside (a scratch prefix for /usr/local, no sudo), run as written in the tarball's directory
  const prefix = join(scratch, 'global');
  await run('bash', ['-c', install.replace('sudo ', '').replace('/usr/local', prefix)], {
    cwd: scratch,
    timeout: 180_000,
    env: { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' },
  });
  const path = `${join(prefix, 'bin')}:${process.env.PATH}`;
  assert.equal(readme[2], 'warpipe --version');
  const { stdout } = await run('bash', ['-c', readme[2]!], {
    cwd: site,
    env: { ...process.env, PATH: path, WARPIPE_NODE: process.execPath },
  });
  assert.equal(stdout, `warpipe ${version}\n`);
  const command = join(prefix, 'bin', 'warpipe');
  assert.ok(existsSync(join(prefix, 'lib/node_modules/warpipe/python/worker.py')));
  const served = await serveOnce(command);
  assert.match(served.body, /^hello from \/, [0-9a-f-]{36}$/);
  assert.equal(served.id, served.body.slice(-36), 'the middleware ran in the installed gateway');
  assert.equal(served.code, 0);
});

test('npm install -g of the clone: a link to it, the same command', async (t) => {
  if (!requirePeer(t, npmError === '', `npm pack: ${npmError}`)) return;
  const prefix = join(scratch, 'linked');
  await npm(['install', '-g', '--prefix', prefix, '--ignore-scripts', ROOT], scratch);
  const command = join(prefix, 'bin', 'warpipe');
  const served = await serveOnce(command);
  assert.match(served.body, /^hello from \/, [0-9a-f-]{36}$/);
  assert.equal(served.code, 0);
});

test('the tarball as a project dependency: import { startGateway } from "warpipe"', async (t) => {
  if (!requirePeer(t, npmError === '', `npm pack: ${npmError}`)) return;
  const project = join(scratch, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), '{ "name": "mysite", "private": true, "type": "module" }\n');
  writeFileSync(join(project, 'site_app.py'), APP);
  await npm(['install', tarball], project);
  assert.ok(existsSync(join(project, 'node_modules/warpipe/dist/src/index.d.ts')), 'the types are installed');
  writeFileSync(
    join(project, 'main.js'),
    `import { startGateway } from 'warpipe';
const gateway = await startGateway({ app: 'site_app.py', http: '127.0.0.1:0', workers: 1, log: () => {},
  middleware: [(app) => (environ, startResponse) => app({ ...environ, SCRIPT_NAME: '/mounted' }, startResponse)] });
const res = await fetch(gateway.url);
console.log(res.status, await res.text());
await gateway.close();
`,
  );
  // exits by itself once close() resolved: nothing of the gateway is left holding the process
  const { stdout } = await run(process.execPath, ['main.js'], { cwd: project, timeout: 60_000 });
  assert.equal(stdout, '200 hello from /mounted, no id\n');
});
