// Issue 14: with the keep-alive default raised to 75 s, an idle kept-alive
// connection held every SIGTERM drain until its client closed it or
// --graceful-timeout ran out: Listener.close waited for net.Server's close
// callback (which comes only once every connection is gone) before it drained
// the connections. Now the drain comes first: the idle connection is closed at
// once and the server exits, with nothing cut off.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from '../helpers/server.js';

test('SIGTERM closes an idle kept-alive connection at once; the drain does not wait for --graceful-timeout', {
  timeout: 120_000,
}, async () => {
  // a grace far longer than the test may take: exiting within the test proves the drain did not wait it out
  const srv = await startServer('pep3333:application', { args: ['--graceful-timeout', '3600'] });
  const sock = net.connect(srv.port, '127.0.0.1');
  sock.setEncoding('latin1');
  let got = '';
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  sock.on('error', () => {});
  sock.on('data', (d: string) => (got += d));
  sock.write('GET /sized?3 HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!got.endsWith('sss')) await new Promise((r) => sock.once('data', r));
  assert.match(got, /^HTTP\/1\.1 200 /);
  assert.match(got, /Keep-Alive: timeout=75/i, 'the connection is kept, and now idle');
  const code = await srv.stop('SIGTERM');
  await closed;
  assert.equal(code, 0);
  assert.doesNotMatch(srv.logs(), /cutting off/);
});
