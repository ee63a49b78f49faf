// Found by the ASGI benchmark (bench/, issue 15): with more requests in flight than an ASGI
// worker has streams (--asgi-concurrency), the dispatcher wrote the next request *ahead* on a
// busy stream, as --pipeline does for a WSGI channel. A stream carries one request at a time
// (docs/worker-protocol.md): the worker exited with "protocol error: REQUEST on stream 0 while
// its request runs" (code 70), again after every respawn, and wrk -c 50 on 2 workers x 10 streams
// got 60 req/s instead of ~20,000. Beyond its streams a request now waits in the gateway's queue.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ASGI_DIR, startServer, type Server } from '../helpers/server.js';

describe('an ASGI worker with every stream busy', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('probe:app', {
      cwd: ASGI_DIR,
      args: ['--workers', '1', '--asgi-concurrency', '2', '--interface', 'asgi'],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('100 requests at once on 2 streams: each answered, no request written ahead on a busy stream', async () => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const res = await fetch(`${srv.url}/hello`);
        return `${res.status} ${await res.text()}`;
      }),
    );
    assert.deepEqual(new Set(answers), new Set(['200 hello from asgi']));
    assert.doesNotMatch(srv.logs(), /protocol error|exited with code/);
  });
});
