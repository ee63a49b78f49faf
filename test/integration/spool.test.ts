// --spool-request-body: slow uploads go to a temporary file, not to a worker.
// One worker, three clients uploading slowly: a GET is answered at once, and
// each upload comes back whole once it is complete. No file is ever visible
// in the spool directory; a client that leaves mid-upload leaves no descriptor;
// bodies over the limit still stream; a failing disk is a 500 and a log line.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { runCli, startServer, type Server } from '../helpers/server.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** POST `body` in two parts with `pauseMs` between; resolves with the response body once the server closes. */
function slowUpload(
  port: number,
  path: string,
  body: Buffer,
  pauseMs: number,
): { done: Promise<{ head: string; body: Buffer }>; socket: net.Socket } {
  const socket = net.connect(port, '127.0.0.1');
  const done = new Promise<{ head: string; body: Buffer }>((resolve, reject) => {
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(got);
      const end = all.indexOf('\r\n\r\n');
      resolve({ head: all.toString('latin1', 0, end), body: all.subarray(end + 4) });
    });
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
      const half = body.length >> 1;
      socket.write(body.subarray(0, half));
      setTimeout(() => socket.destroyed || socket.write(body.subarray(half)), pauseMs).unref();
    });
  });
  return { done, socket };
}

describe('--spool-request-body', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-spool-`);
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: ['--workers', '1', '--pipeline', '0', '--buffer-request-body', '64K', '--spool-request-body', '1M', '--spool-dir', dir],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('three slow uploads hold no worker: a GET is served meanwhile; each upload comes back whole', async () => {
    const bodies = [0, 1, 2].map((i) => Buffer.alloc(400_000 + i, String(i)));
    const uploads = bodies.map((b) => slowUpload(srv.port, '/echo', b, 3000));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(readdirSync(dir), [], 'the spool files are unlinked as soon as they are made');
    const started = Date.now();
    const res = await fetch(`${srv.url}/sized?3`);
    assert.equal(await res.text(), 'sss');
    const took = Date.now() - started;
    // without spooling the worker is held by the first upload until its second half comes, at 3 s
    assert.ok(took < 2000, `the only worker was free: the GET took ${took} ms while three uploads were half sent`);
    const echoed = await Promise.all(uploads.map((u) => u.done));
    echoed.forEach((e, i) => {
      assert.match(e.head, /^HTTP\/1\.1 200 /);
      assert.equal(sha(e.body), sha(bodies[i]!), `upload ${i} came back whole`);
    });
  });

  test('a client that leaves mid-upload leaves no spool file open', async () => {
    // the gateway's descriptors on spool files: "…/warpipe-body-… (deleted)", unlinked at once
    const spoolFds = (): number =>
      readdirSync(`/proc/${srv.proc.pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${srv.proc.pid}/fd/${fd}`).startsWith(`${dir}/warpipe-body-`);
        } catch {
          return false; // closed meanwhile
        }
      }).length;
    assert.equal(spoolFds(), 0, 'the uploads before were read back and closed');
    const { socket, done } = slowUpload(srv.port, '/echo', Buffer.alloc(300_000, 'q'), 60_000);
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(spoolFds(), 1, 'the half-sent body is in an (unlinked) spool file');
    } finally {
      socket.destroy(); // also when the assertion fails: a half-sent upload would hold the server's drain
    }
    await done;
    let left = spoolFds();
    for (let i = 0; i < 40 && left > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = spoolFds();
    }
    assert.equal(left, 0);
  });

  test('a body over --spool-request-body still streams: the app answers before the upload ends', async () => {
    const body = Buffer.alloc(1_500_000, 'z');
    const { socket, done } = slowUpload(srv.port, '/echo-stream', body, 3000);
    const first = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      socket.once('data', () => resolve(Date.now() - t0));
    });
    assert.ok(first < 2500, `first bytes after ${first} ms, before the second half was sent (at 3 s)`);
    const { head } = await done;
    assert.match(head, /^HTTP\/1\.1 200 /);
  });
});

test('a spool that cannot be written is a 500 and a log line; the next request is served', async (t) => {
  if (spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('prlimit (util-linux) is missing');
  const dir = mkdtempSync(`${tmpdir()}/warpipe-spool-`);
  const srv = await startServer('pep3333:application', {
    args: ['--buffer-request-body', '64K', '--spool-request-body', '1M', '--spool-dir', dir],
  });
  // files the gateway writes may now grow to 200 KB at most (EFBIG past it; Node ignores SIGXFSZ)
  assert.equal(spawnSync('prlimit', ['--pid', String(srv.proc.pid), '--fsize=200000:200000']).status, 0);
  const res = await fetch(`${srv.url}/echo`, { method: 'POST', body: Buffer.alloc(300_000, 'e') });
  assert.equal(res.status, 500);
  await srv.waitForLog(new RegExp(`cannot write a request body to a temporary file in ${dir} \\(EFBIG\\) while handling POST /echo`));
  const small = await fetch(`${srv.url}/echo`, { method: 'POST', body: Buffer.alloc(100_000, 's') });
  assert.equal((await small.arrayBuffer()).byteLength, 100_000);
  assert.equal(await srv.stop(), 0);
});

test('a --spool-dir where no file can be made is one line and exit 2', async () => {
  const r = await runCli(['pep3333:application', '--spool-request-body', '10M', '--spool-dir', '/nonexistent-dir']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'warpipe: --spool-dir /nonexistent-dir: cannot make a file there (ENOENT)\n');
});
