// Issue 11, item 4: one connection pipelined 400 GETs of an 8 MiB response and
// never read: the gateway ran them all and queued every response (60 MB ->
// 2.8 GB in 15 s; with --send-timeout 5, ~960 MB held for 30 s, no log line).
// A pipelined request now waits while --buffer-response of output waits for
// the client, and --send-timeout closes a client that takes nothing.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, type Server } from '../helpers/server.js';
import { peakMiB, rssMiB } from '../helpers/memory.js';

describe('pipelined requests whose responses are never read', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--send-timeout', '5'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('400 pipelined GETs of 8 MiB: one response is held, the client is closed by --send-timeout, others are served', async () => {
    const pid = srv.proc.pid!;
    const before = rssMiB(pid);
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.pause(); // reads nothing (and so cannot see the close either, until it reads again)
    sock.on('error', () => {});
    sock.write('GET /big?8 HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(400));
    const res = await fetch(`${srv.url}/sized?3`);
    assert.equal(await res.text(), 'sss');
    await srv.waitForLog(/client 127\.0\.0\.1 accepted no data for 5s; closing/, 30_000);
    // what it can still read is what the gateway had sent: a response or two, not 400
    let got = 0;
    sock.on('data', (d: Buffer) => (got += d.length));
    await new Promise<void>((resolve) => {
      sock.on('close', () => resolve());
      sock.resume();
    });
    assert.ok(got < 4 * 8 * 1048576, `the client read ${(got / 1048576).toFixed(0)} MiB after the close`);
    const grew = peakMiB(pid) - before;
    assert.ok(grew < 150, `the gateway grew by ${grew.toFixed(0)} MiB`);
  });
});
