// Issue 11, item 3: with --spool-request-body on a filesystem that fills, the
// client got `100 Continue` and then nothing: the failed write was recorded but
// never resumed the paused upload nor failed the request; the descriptor on the
// deleted file, its disk space and the connection leaked. Now: a 500 at once,
// one log line, the spool file closed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer } from '../helpers/server.js';

test('a spool disk that fills mid-upload: 500 at once, one log line, the file closed, the next upload served', async (t) => {
  if (spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('prlimit (util-linux) is missing');
  const dir = mkdtempSync(`${tmpdir()}/warpipe-spool-full-`);
  const srv = await startServer('pep3333:application', {
    args: ['--buffer-request-body', '64K', '--spool-request-body', '64M', '--spool-dir', dir],
  });
  try {
    // the "disk" is full past 200 KB: files the gateway writes may grow no further (EFBIG; Node ignores SIGXFSZ)
    assert.equal(spawnSync('prlimit', ['--pid', String(srv.proc.pid), '--fsize=200000:200000']).status, 0);
    const size = 20 * 1024 * 1024;
    const answer = await new Promise<string>((resolve) => {
      const got: Buffer[] = [];
      const sock = net.connect(srv.port, '127.0.0.1', () => {
        sock.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\n\r\n`);
        const piece = Buffer.alloc(64 * 1024, 'f');
        let sent = 0;
        const pump = (): void => {
          while (sent < size && !sock.destroyed) {
            sent += piece.length;
            if (!sock.write(piece)) return void sock.once('drain', pump);
          }
        };
        pump();
      });
      const timer = setTimeout(() => sock.destroy(), 20_000);
      sock.on('data', (d: Buffer) => {
        got.push(d);
        if (/\r\n\r\n[\s\S]*HTTP\/1\.1 \d{3} [\s\S]*\r\n\r\n/.test(Buffer.concat(got).toString('latin1'))) sock.destroy();
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(got).toString('latin1'));
      });
    });
    assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 500 Internal Server Error\r\n/, JSON.stringify(answer.slice(0, 120)));
    await srv.waitForLog(new RegExp(`cannot write a request body to a temporary file in ${dir} \\(EFBIG\\) while handling POST /echo`));
    const spoolFds = (): number =>
      readdirSync(`/proc/${srv.proc.pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${srv.proc.pid}/fd/${fd}`).startsWith(`${dir}/warpipe-body-`);
        } catch {
          return false;
        }
      }).length;
    for (let i = 0; i < 100 && spoolFds() > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(spoolFds(), 0, 'the spool file is closed');
    assert.equal(srv.logs().split('cannot write a request body').length - 1, 1, 'said once');
    const small = await fetch(`${srv.url}/echo`, { method: 'POST', body: Buffer.alloc(100_000, 's') });
    assert.equal((await small.arrayBuffer()).byteLength, 100_000);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});
