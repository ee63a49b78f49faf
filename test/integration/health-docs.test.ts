// docs/deploy.md's keep-alive, health, warm-up and pid-file snippets, run as
// written (only the port and the paths moved into a temporary directory): the
// commands by bash with `warpipe` on PATH, the probe's answer compared with the
// page's, the Kubernetes probes pointed at the server the health line starts.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net.js';
import { type Running, commandLines, serveScript, shimDir, snippet, substitute, writeDocApps } from '../helpers/snippets.js';

const DEPLOY = 'docs/deploy.md';
let work: string;
let bin: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'warpipe-health-docs-'));
  writeDocApps(work);
  bin = shimDir(join(work, 'shims'));
});
after(() => rmSync(work, { recursive: true, force: true }));

const serve = (script: string): Promise<Running> => serveScript(script, { cwd: work, bin });

async function stopped(r: Running): Promise<void> {
  assert.equal(await r.stop(), 0, r.logs());
}

test('keep-alive above the balancer: the line as written announces its timeout', async () => {
  const port = await freePort();
  const [line] = commandLines(snippet(DEPLOY, 'deploy-keepalive').text);
  const r = await serve(substitute(line!, [['0.0.0.0:8000', `127.0.0.1:${port}`]]));
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('keep-alive'), 'timeout=310');
    await res.arrayBuffer();
  } finally {
    await stopped(r);
  }
});

test('--health: the two lines as written, the answer the page shows, and the Kubernetes probes against it', async () => {
  const port = await freePort();
  const [serveLine, curlLine] = commandLines(snippet(DEPLOY, 'deploy-health').text);
  const r = await serve(substitute(serveLine!, [['127.0.0.1:8000', `127.0.0.1:${port}`]]));
  try {
    const curl = spawnSync('bash', ['-c', substitute(curlLine!, [['127.0.0.1:8000', `127.0.0.1:${port}`]])], { encoding: 'utf8' });
    if (curl.error && (curl.error as NodeJS.ErrnoException).code === 'ENOENT') assert.fail('bash is missing');
    assert.equal(curl.status, 0, `curl: ${curl.stderr}`);
    // the page's answer, with the workers this line starts and an idle server's zeros
    assert.deepEqual(JSON.parse(curl.stdout), JSON.parse(snippet(DEPLOY, 'deploy-health-answer').text));
    // every httpGet of the Deployment names the probe path and the port the line serves on
    const yaml = snippet(DEPLOY, 'deploy-health-kubernetes').text;
    const probes = [...yaml.matchAll(/httpGet: \{ path: (\S+), port: (\d+) \}/g)];
    assert.equal(probes.length, 2);
    for (const [, path, docPort] of probes) {
      assert.equal(docPort, '8000');
      const res = await fetch(`http://127.0.0.1:${port}${path!}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      await res.arrayBuffer();
    }
  } finally {
    await stopped(r);
  }
});

test('--warmup: each new worker is sent the paths of the line, in order, before it serves', async () => {
  const port = await freePort();
  // myproject.wsgi notes each request that says it is a warm-up
  const seen = join(work, 'warmups.txt');
  writeFileSync(
    join(work, 'myproject', 'wsgi.py'),
    'import os\n\ndef application(environ, start_response):\n' +
      "    if environ.get('HTTP_X_WARPIPE_WARMUP') == '1':\n" +
      `        with open(${JSON.stringify(seen)}, 'a') as f:\n` +
      "            f.write('%d %s?%s\\n' % (os.getpid(), environ['PATH_INFO'], environ.get('QUERY_STRING', '')))\n" +
      "    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'ok']\n",
  );
  const [line] = commandLines(snippet(DEPLOY, 'deploy-warmup').text);
  const r = await serve(substitute(line!, [['127.0.0.1:8000', `127.0.0.1:${port}`]]));
  try {
    const lines = readFileSync(seen, 'utf8').trim().split('\n');
    const byWorker = new Map<string, string[]>();
    for (const l of lines) {
      const [pid, target] = l.split(' ') as [string, string];
      byWorker.set(pid, [...(byWorker.get(pid) ?? []), target]);
    }
    assert.ok(byWorker.size >= 1);
    for (const targets of byWorker.values()) assert.deepEqual(targets, ['/?', '/api/ping?warm=1']);
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'ok');
  } finally {
    await stopped(r);
    writeDocApps(work); // myproject.wsgi as the other tests expect it
  }
});

test('--pid-file: the line as written; the file holds the pid to signal, and is gone after exit', async () => {
  const port = await freePort();
  const [line] = commandLines(snippet(DEPLOY, 'deploy-pid-file').text);
  mkdirSync(join(work, 'run/myproject'), { recursive: true });
  const pidFile = join(work, 'run/myproject/warpipe.pid');
  const r = await serve(
    substitute(line!, [
      ['127.0.0.1:8000', `127.0.0.1:${port}`],
      ['/run/myproject/warpipe.pid', pidFile],
    ]),
  );
  try {
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(r.proc.pid));
  } finally {
    await stopped(r);
  }
  assert.equal(existsSync(pidFile), false);
});
