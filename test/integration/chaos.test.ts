// The gateway under a short, seeded live fuzz (bench/chaos.ts): valid exchanges of every protocol it
// listens for (HTTP/1.1, WebSocket, h2c, FastCGI, SCGI, uwsgi; HTTP behind a PROXY header too)
// mutated at random, written in pieces, ended, left open or cut, read or never read. After it the
// gateway must be alive, answer on every listener, have logged no bug and no uncaught error, and
// stop at SIGTERM. CHAOS_SEED replays a run; bench/chaos.ts runs longer ones. Nothing here depends
// on timing: a connection's deadline only bounds the run.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ChaosOptions, type Sent, chaos, chaosListeners, stillAnswers, troubleIn } from '../../bench/chaos.js';
import { ASGI_DIR, FIXTURES, startServer } from '../helpers/server.js';

const SEED = Number(process.env.CHAOS_SEED ?? 20261204);

const cases = [
  {
    what: 'an ASGI app (WebSockets too)',
    app: 'probe:app',
    cwd: ASGI_DIR,
    paths: { hello: '/hello', echo: '/echo', websocket: '/ws/echo' },
    expect: 'hello from asgi',
    proxy: false,
  },
  {
    what: 'a WSGI app',
    app: 'hello:application',
    cwd: FIXTURES,
    paths: { hello: '/', echo: '/', websocket: '/' },
    expect: 'Hello',
    proxy: false,
  },
  {
    what: 'a WSGI app behind --proxy-protocol (PROXY v1 and v2 headers first)',
    app: 'hello:application',
    cwd: FIXTURES,
    paths: { hello: '/', echo: '/', websocket: '/' },
    expect: 'Hello',
    proxy: true,
  },
];

for (const c of cases) {
  test(`chaos (seed ${SEED}): 300 mutated connections to ${c.what} leave the gateway up and answering on every listener`, async () => {
    const { proxy } = c;
    const { targets, args } = chaosListeners(mkdtempSync(join(tmpdir(), 'warpipe-chaos-')), proxy);
    const srv = await startServer(c.app, { cwd: c.cwd, args });
    const last: Sent[] = [];
    let failed = true;
    try {
      const options: ChaosOptions = { connections: 300, seed: SEED, concurrency: 12, connectionMs: 1000, paths: c.paths, proxy };
      const alive = (): boolean => srv.proc.exitCode === null && srv.proc.signalCode === null;
      const tally = await chaos(targets, options, alive, last);
      const replay = `CHAOS_SEED=${SEED}; the last inputs: ${JSON.stringify(last.map((s) => [s.kind, s.bytes.toString('latin1')]))}`;
      assert.ok(alive(), `the gateway exited: ${replay}\n${srv.logs().slice(-3000)}`);
      assert.equal(tally.connections, 300, replay);
      // every kind was tried, and the gateway answered most of them
      assert.equal(Object.keys(tally.kinds).length, 10, JSON.stringify(tally.kinds));
      assert.ok(tally.answered > 100, JSON.stringify(tally));
      assert.deepEqual(await stillAnswers(targets, c.paths.hello, c.expect, proxy), [], replay);
      assert.deepEqual(troubleIn(srv.logs()), [], replay);
      failed = false;
    } finally {
      // SIGTERM: whatever the chaos left open is gone or reclaimed, so the drain ends and warpipe exits 0
      const code = await srv.stop();
      if (!failed) assert.equal(code, 0, srv.logs().slice(-3000));
    }
  });
}
