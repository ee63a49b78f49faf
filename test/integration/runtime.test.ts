// The runtime the `warpipe` command runs on (issue 13, part 0): $WARPIPE_NODE
// if set, else the node on PATH, always with the young generation capped; and a
// warning at startup on a Node older than the one warpipe recommends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECOMMENDED_NODE, runtimeAdvice } from '../../src/gateway.js';
import { CLI, startServer } from '../helpers/server.js';

test('the warpipe command runs $WARPIPE_NODE when it is set, the node on PATH when not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warpipe-runtime-'));
  const fake = join(dir, 'my-node');
  writeFileSync(fake, `#!/bin/sh\necho "my-node: $*"\n`);
  chmodSync(fake, 0o755);
  const chosen = spawnSync('/bin/sh', [CLI, '--version'], { env: { ...process.env, WARPIPE_NODE: fake }, encoding: 'utf8' });
  assert.equal(chosen.stdout, `my-node: --max-semi-space-size=8 ${CLI} --version\n`);
  // without it: the node first on PATH (here, the one running this test)
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}` };
  delete env.WARPIPE_NODE;
  const plain = spawnSync('/bin/sh', [CLI, '--version'], { env, encoding: 'utf8' });
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /^warpipe \S+/);
});

test('a Node older than the recommended one is warned about, once, at startup; the banner names the runtime', async () => {
  assert.match(
    runtimeAdvice('20.20.2') ?? '',
    /^running on Node 20\.20\.2, past its end of life; Node 22 and 24 spend 10-20 % less CPU per request/,
  );
  assert.equal(runtimeAdvice(`${RECOMMENDED_NODE}.0.0`), null);
  assert.equal(runtimeAdvice('24.22.3'), null);
  const srv = await startServer('hello:application');
  assert.match(
    srv.logs(),
    new RegExp(String.raw`\[INFO\] warpipe \S+: app hello:application, .*, node ${process.versions.node.replaceAll('.', '\\.')}\n`),
  );
  const warned = srv.logs().split('past its end of life').length - 1;
  assert.equal(warned, Number(process.versions.node.split('.')[0]) < RECOMMENDED_NODE ? 1 : 0);
  assert.equal(await srv.stop(), 0);
});
