// The snippets of docs/deploy.md's "Compression", run as written (paths and the
// port aside): the warpipe command line with --static and --static-max-age, and
// the Node one-liner that precompresses a static directory, whose .br and .gz
// files that command then serves.

import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { freePort, waitForPort } from '../helpers/net.js';
import { runScript, shimDir, snippet, substitute, writeDocApps } from '../helpers/snippets.js';
import { decode, getRaw, prose } from '../helpers/compressed.js';

const DEPLOY = 'docs/deploy.md';

test('deploy.md, Compression: precompress ./static with the one-liner, then serve it with --static-max-age', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warpipe-docs-compress-'));
  try {
    writeDocApps(dir);
    mkdirSync(join(dir, 'static', 'css'), { recursive: true });
    const css = prose(30_000, 11);
    writeFileSync(join(dir, 'static', 'css', 'site.css'), css);
    writeFileSync(join(dir, 'static', 'logo.png'), Buffer.alloc(100, 1));
    const bin = shimDir(dir);

    // (a script of several lines, not a command to exec: bash runs it as it stands)
    const pre = spawnSync('bash', ['-euc', snippet(DEPLOY, 'deploy-precompress').text], { cwd: dir, encoding: 'utf8' });
    assert.equal(pre.status, 0, pre.stderr);
    const br = readFileSync(join(dir, 'static', 'css', 'site.css.br'));
    assert.equal(zlib.brotliDecompressSync(br).toString(), css);
    assert.equal(zlib.gunzipSync(readFileSync(join(dir, 'static', 'css', 'site.css.gz'))).toString(), css);

    const port = await freePort();
    const serve = substitute(snippet(DEPLOY, 'deploy-compress').text, [['0.0.0.0:8000', `127.0.0.1:${port}`]]);
    const server = runScript(serve, { cwd: dir, bin });
    try {
      await waitForPort(port, () => (server.proc.exitCode === null ? null : server.logs()));
      await server.waitForLog(/ready/);
      const res = await getRaw(port, '/static/css/site.css', { 'Accept-Encoding': 'gzip, deflate, br' });
      assert.equal(res.headers['content-encoding'], 'br');
      assert.ok(res.raw.equals(br), 'the precompressed file, as written');
      assert.equal(res.headers['cache-control'], 'public, max-age=86400');
      assert.equal(decode('br', res.raw).toString(), css);
      const app = await getRaw(port, '/', { 'Accept-Encoding': 'gzip' });
      assert.equal((JSON.parse(decode(app.headers['content-encoding'], app.raw).toString()) as { path: string }).path, '/');
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
