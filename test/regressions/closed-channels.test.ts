// Issue 11, defect 12: an app that closed its worker's channel descriptors made
// its request wait for --timeout (504). The worker lives on (its main thread,
// blocked reading the control channel, keeps that one open), so only the end
// of file on the request channel tells: the worker is broken, its request gets
// 502 at once, and it is replaced.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Server } from '../helpers/server.js';

for (const mode of [[], ['--preload']]) {
  describe(`an app that closes its worker's descriptors${mode.length ? ' (--preload)' : ''}`, () => {
    let srv: Server;
    after(async () => {
      assert.equal(await srv.stop(), 0);
    });

    test('its request gets 502 without waiting for --timeout; the worker is replaced', { timeout: 120_000 }, async () => {
      srv = await startServer('worker_hazards:application', { args: ['--workers', '1', '--timeout', '30', ...mode] });
      const before = Number(await (await fetch(`${srv.url}/pid`)).text());
      const res = await fetch(`${srv.url}/close-channels`, { signal: AbortSignal.timeout(60_000) });
      assert.equal(res.status, 502, 'a broken worker, not a timeout');
      await res.arrayBuffer();
      await srv.waitForLog(new RegExp(`worker ${before}: closed its request channel with GET /close-channels in flight; killing it`));
      const next = await fetch(`${srv.url}/pid`, { signal: AbortSignal.timeout(60_000) });
      assert.equal(next.status, 200);
      assert.notEqual(Number(await next.text()), before, 'served by a new worker');
      await srv.waitForLog(new RegExp(`worker ${before} exited with `)); // killed, then reaped
      assert.doesNotMatch(srv.logs(), /timed out/);
    });
  });
}
