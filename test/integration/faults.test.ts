// Clients that go away at every stage of a request (mid-head, mid-upload,
// while the app runs, mid-download): the worker is released (a streaming
// response is stopped by CANCEL, not run to its end), the app's close() still
// runs, and the gateway ends with the file descriptors it started with. One worker with one thread, so a worker left stuck would show
// as the next request hanging.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Connect, send `data`, wait for `until` (bytes received, or ms), then vanish (RST). */
function vanish(port: number, data: (string | Buffer)[], until: { bytes?: number; ms?: number }): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      for (const d of data) s.write(d);
      if (until.ms !== undefined) setTimeout(() => s.resetAndDestroy(), until.ms);
    });
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (until.bytes !== undefined && got >= until.bytes) s.resetAndDestroy();
    });
    s.on('error', () => {});
    s.on('close', () => resolve(got));
  });
}

describe('clients that go away', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-faults-`);
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--workers', '1', '--threads', '1', '--buffer-request-body', '64K'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('at every stage: the worker is released, close() runs, no descriptor is left open', async () => {
    const hello = async (): Promise<void> => {
      const res = await fetch(`${srv.url}/sized?10`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      assert.equal((await res.text()).length, 10);
    };
    await hello();
    const workerPid = ((await (await fetch(`${srv.url}/environ`)).json()) as { pid: number }).pid;
    const fdsBefore = openFds(srv.proc.pid!);

    for (let round = 0; round < 5; round++) {
      // mid-head
      await vanish(srv.port, ['GET /sized?10 HTTP/1.1\r\nHost: x\r\nX-Half: '], { ms: 20 });
      // mid-upload, in a body large enough to stream to the worker as it comes
      await vanish(srv.port, ['POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n', Buffer.alloc(1_000_000, 'u')], {
        ms: 100,
      });
      await hello();
      // while the app runs
      await vanish(srv.port, ['GET /sleep?0.3 HTTP/1.1\r\nHost: x\r\n\r\n'], { ms: 50 });
      await hello();
      // mid-download: the app's close() must still run
      const marker = `${dir}/closed-${round}`;
      const got = await vanish(srv.port, [`GET /slow-closing?${marker} HTTP/1.1\r\nHost: x\r\n\r\n`], { bytes: 3_000_000 });
      assert.ok(got >= 3_000_000);
      // the app would stream for 2 s more; the gateway's CANCEL stops it between two blocks
      for (let i = 0; i < 50 && !existsSync(marker); i++) await sleep(20);
      assert.ok(existsSync(marker), `close() ran within 1 s of the client leaving mid-download (round ${round})`);
      await hello();
    }

    assert.equal(
      ((await (await fetch(`${srv.url}/environ`)).json()) as { pid: number }).pid,
      workerPid,
      'the same worker, never killed for it',
    );
    let fdsAfter = openFds(srv.proc.pid!);
    for (let i = 0; i < 50 && fdsAfter > fdsBefore; i++) {
      await sleep(50);
      fdsAfter = openFds(srv.proc.pid!);
    }
    assert.ok(fdsAfter <= fdsBefore, `gateway descriptors: ${fdsBefore} before, ${fdsAfter} after`);
  });
});
