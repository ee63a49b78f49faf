// Found while making startGateway's close() (issue 14): a drain (SIGTERM, or
// close()) waited for each listening server's close() callback before it
// drained the connections, and that callback comes only once every connection
// is gone, so one idle keep-alive connection held the stop for the whole
// --graceful-timeout (30 s by default). The idle connection is now closed at
// once, and the stop goes on. Here the grace is 10 minutes: were the idle
// connection waited for, the test would time out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from '../helpers/server.js';

test('SIGTERM with an idle keep-alive connection open: the gateway closes it and exits, without waiting out the grace', {
  timeout: 120_000,
}, async () => {
  const srv = await startServer('hello', { args: ['--graceful-timeout', '600', '--keepalive-timeout', '600'] });
  const sock = net.connect(srv.port, '127.0.0.1');
  let got = '';
  const answered = new Promise<void>((resolve) =>
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.endsWith('Hello, world!')) resolve();
    }),
  );
  const closedByServer = new Promise<void>((resolve) => sock.on('end', () => resolve()));
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await answered;
  assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(got, /Keep-Alive: timeout=600/i, 'the connection is kept: idle from now on');
  const code = srv.stop('SIGTERM');
  await closedByServer;
  assert.equal(await code, 0);
  assert.match(srv.logs(), /draining 1 connection\(s\), grace 600s/);
  sock.destroy();
});
