// Under --preload, SIGTERM could leave the gateway waiting the whole
// --graceful-timeout for a worker that had exited at once (seen as a flaky
// `after` hook of reload-stream.test.ts in a loaded full run). On shutdown
// the templates get STOP and exit without reaping; a forked worker that
// exited before the gateway saw its template's exit closed its control channel
// while the template still ran, which says nothing (the template reports the
// exit, it was thought), and the arbiter's tick that looks for workers whose
// template is gone no longer ran once stopping. Here the template's exit is
// made slow (an atexit handler of the app's), so that order is certain. Now a
// template's exit has its unreported workers looked for, and the tick goes on
// looking while the workers drain.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Server } from '../helpers/server.js';

describe('--preload: SIGTERM when the template exits after its worker', () => {
  let srv: Server | undefined;
  after(async () => {
    if (srv && srv.proc.exitCode === null && srv.proc.signalCode === null) srv.proc.kill('SIGKILL');
  });

  test('the gateway exits as soon as both are gone, not after --graceful-timeout', { timeout: 60_000 }, async () => {
    srv = await startServer('slow_template_exit:application', {
      args: ['--preload', '--workers', '1', '--graceful-timeout', '60', '--log-level', 'debug'],
    });
    const pid = Number(await (await fetch(srv.url)).text());
    assert.ok(pid > 0);
    const started = Date.now();
    const code = await srv.stop(); // SIGKILL after 15 s: null
    const took = ((Date.now() - started) / 1000).toFixed(1);
    assert.equal(code, 0, `the gateway did not exit 0 on SIGTERM within 15 s (${took}s); its log ends:\n${srv.logs().slice(-4000)}`);
    assert.match(srv.logs(), new RegExp(`worker ${pid} exited`));
    assert.doesNotMatch(srv.logs(), /still busy after/);
  });
});
