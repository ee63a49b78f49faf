// Issue 11, item 11: a request head dripped one byte per packet cost ~136 bytes
// of gateway heap per byte received until the head timeout (20 connections x
// 64 KB -> +175 MB): each read was queued as its own Buffer, and the line
// being read grew as a rope of 1-byte strings. Head buffering is now about a
// byte per byte.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import { startServer, type Server } from '../helpers/server.js';
import { peakMiB, rssMiB } from '../helpers/memory.js';

describe('request heads dripped a byte per packet', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--header-timeout', '120'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('20 connections x 32 KB of head, a byte per write: the gateway holds megabytes, and answers each', async () => {
    const pid = srv.proc.pid!;
    const before = rssMiB(pid);
    const pad = 'a'.repeat(8000);
    const head = Buffer.from(`GET /sized?2 HTTP/1.1\r\nHost: x\r\n${[1, 2, 3, 4].map((i) => `X-Pad-${i}: ${pad}\r\n`).join('')}`);
    const socks = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(srv.port, '127.0.0.1', () => resolve(s));
            s.setNoDelay(true);
          }),
      ),
    );
    const answers = socks.map(
      (s) =>
        new Promise<string>((resolve) => {
          let got = '';
          s.on('data', (d: Buffer) => {
            got += d.toString('latin1');
            if (got.endsWith('ss')) resolve(got);
          });
          s.on('close', () => resolve(got));
        }),
    );
    for (let i = 0; i < head.length; i++) {
      for (const s of socks) s.write(head.subarray(i, i + 1));
      await tick(); // let each byte go out as its own packet
    }
    for (const s of socks) s.write('\r\n');
    for (const a of await Promise.all(answers)) assert.match(a, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nss$/);
    for (const s of socks) s.destroy();
    const grew = peakMiB(pid) - before;
    // 640 KB of heads; before the fix ~90 MB
    assert.ok(grew < 40, `the gateway grew by ${grew.toFixed(0)} MiB`);
  });
});
