// An upstream's answer (a CGI script here; FastCGI and uwsgi/SCGI mounts go
// through the same Feed) to a client that reads nothing was held whole by the
// gateway: 300 MB of script output, 300 MB of gateway memory. The upstream is
// now paused past 1 MiB waiting for the client, and --upstream-timeout does not
// count the time the client makes it wait.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { chmodSync, mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer } from '../helpers/server.js';
import { peakMiB, rssMiB } from '../helpers/memory.js';

const SIZE = 100 * 1024 * 1024;

test('a 100 MB CGI answer to a client that reads nothing for 4 s: the gateway holds a little of it, and all of it arrives after', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-slow-reader-`);
  mkdirSync(`${dir}/cgi-bin`);
  writeFileSync(`${dir}/cgi-bin/big.sh`, `#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nhead -c ${SIZE} /dev/zero\n`);
  chmodSync(`${dir}/cgi-bin/big.sh`, 0o755);
  const srv = await startServer('pep3333:application', { args: ['--cgi', `/cgi-bin=${dir}/cgi-bin`, '--upstream-timeout', '2'] });
  try {
    const pid = srv.proc.pid!;
    const before = rssMiB(pid);
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.pause();
    sock.write('GET /cgi-bin/big.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 4000)); // past --upstream-timeout, reading nothing
    const held = peakMiB(pid) - before;
    let got = 0;
    let head = '';
    sock.on('data', (d: Buffer) => {
      if (head === '') head = d.toString('latin1', 0, 200);
      got += d.length;
    });
    await new Promise<void>((resolve) => {
      sock.on('close', () => resolve());
      sock.resume();
    });
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(got > SIZE, `the client got ${got} bytes of ${SIZE} and a chunked framing`);
    assert.doesNotMatch(srv.logs(), /wrote nothing for/);
    // before: the whole 100 MB (and more)
    assert.ok(held < 50, `the gateway grew by ${held.toFixed(0)} MiB while the client read nothing`);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});
