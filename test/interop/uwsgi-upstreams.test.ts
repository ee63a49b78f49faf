// warpipe in front of uWSGI over each protocol it can be reached by, nginx's
// uwsgi_pass / scgi_pass / fastcgi_pass roles: --mount /u=uwsgi://…,
// /s=scgi://…, /f=fastcgi://…?split=none (the upstream is the app, as flup or
// web.py's runfcgi would be). The WSGI app behind uWSGI sees the mount in
// SCRIPT_NAME; bodies of known length are streamed to it as they arrive,
// chunked ones are sent with their length; statuses go through; uWSGI down is
// a 502. Real uWSGI from Debian.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { FIXTURES, requirePeer, startServer, type Server } from '../helpers/server.js';

const haveUwsgi = spawnSync('uwsgi', ['--plugin', 'python3', '--help'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
const PROTOCOLS = [
  ['uwsgi', '/u'],
  ['scgi', '/s'],
  ['fastcgi', '/f'],
] as const;

/** Send a head and the first part of a body, and resolve once bytes come back before the rest is sent. */
function answersBeforeTheEnd(port: number, path: string, first: Buffer, rest: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let restSent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer to the first ${first.length} bytes within 5s: the body was not streamed`));
    }, 5000);
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      got.push(d);
      if (!restSent && Buffer.concat(got).includes('\r\n\r\n')) {
        restSent = true;
        clearTimeout(timer);
        sock.write(rest); // no half-close: like nginx, warpipe takes a FIN as the client going away
      }
    });
    sock.on('end', () => resolve(Buffer.concat(got)));
    sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${first.length + rest.length}\r\n\r\n`);
    sock.write(first);
  });
}

describe('warpipe -> uWSGI (--mount uwsgi://, scgi://, fastcgi://?split=none)', () => {
  let srv: Server | null = null;
  let uwsgi: ChildProcess | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-uwsgi-`);

  const startUwsgi = (): ChildProcess => {
    for (const sock of ['u', 's', 'f']) rmSync(`${dir}/${sock}.sock`, { force: true });
    return spawn(
      'uwsgi',
      [
        '--plugin',
        'python3',
        '--socket',
        `${dir}/u.sock`,
        '--scgi-socket',
        `${dir}/s.sock`,
        '--fastcgi-socket',
        `${dir}/f.sock`,
        '--wsgi-file',
        `${FIXTURES}pep3333.py`,
        '--callable',
        'application',
        '--processes',
        '2',
        '--master',
        '--die-on-term',
        '--disable-logging',
      ],
      { stdio: 'ignore' },
    );
  };
  const socketsUp = async (): Promise<void> => {
    for (let i = 0; i < 200 && !['u', 's', 'f'].every((s) => existsSync(`${dir}/${s}.sock`)); i++)
      await new Promise((r) => setTimeout(r, 50));
  };

  before(async () => {
    if (!haveUwsgi) return;
    uwsgi = startUwsgi();
    await socketsUp();
    srv = await startServer('pep3333:application', {
      // no keep-alive: the descriptor count after the outage then holds only what the upstreams left
      args: [
        '--keepalive-timeout',
        '0',
        '--buffer-request-body',
        '64K',
        '--upstream-timeout',
        '1.5',
        '--mount',
        `/u=uwsgi://unix:${dir}/u.sock`,
        '--mount',
        `/s=scgi://unix:${dir}/s.sock`,
        '--mount',
        `/f=fastcgi://unix:${dir}/f.sock?split=none`,
      ],
    });
  });
  after(async () => {
    if (uwsgi?.exitCode === null) uwsgi.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  for (const [protocol, prefix] of PROTOCOLS) {
    test(`${protocol}: the app behind uWSGI gets the mount as SCRIPT_NAME; bodies and statuses go through`, async (t) => {
      if (!requirePeer(t, haveUwsgi, 'uwsgi with its python3 plugin (Debian uwsgi-core, uwsgi-plugin-python3)')) return;
      const url = `${srv!.url}${prefix}`;
      const env = (await (await fetch(`${url}/environ?x=1`, { headers: { 'X-Custom': 'yes', Proxy: 'http://evil:1' } })).json()) as Record<
        string,
        unknown
      >;
      assert.equal(env.SCRIPT_NAME, prefix);
      assert.equal(env.PATH_INFO, '/environ');
      assert.equal(env.QUERY_STRING, 'x=1');
      assert.equal(env.HTTP_X_CUSTOM, 'yes');
      assert.equal(env.HTTP_PROXY, undefined);
      assert.notEqual(env.pid, ((await (await fetch(`${srv!.url}/environ`)).json()) as Record<string, unknown>).pid);

      const body = Buffer.alloc(500_000, 'u');
      const echo = await fetch(`${url}/echo`, { method: 'POST', body });
      assert.equal(echo.status, 200);
      assert.ok(Buffer.from(await echo.arrayBuffer()).equals(body));
      // chunked, larger than the listener holds: sent on with its length once read
      const parts = [Buffer.alloc(100_000, 'a'), Buffer.alloc(150_000, 'b'), Buffer.alloc(7, 'c')];
      const chunked = await fetch(`${url}/echo`, {
        method: 'POST',
        duplex: 'half',
        body: new ReadableStream({
          pull(c) {
            const p = parts.shift();
            if (p) c.enqueue(p);
            else c.close();
          },
        }),
      } as RequestInit);
      const back = Buffer.from(await chunked.arrayBuffer());
      assert.equal(back.length, 250_007);
      assert.equal(chunked.headers.get('x-length'), '250007');

      assert.equal((await fetch(`${url}/status?404`)).status, 404);
      const big = await fetch(`${url}/big?40`);
      assert.equal((await big.arrayBuffer()).byteLength, Number(big.headers.get('content-length')));
    });

    test(`${protocol}: a body of known length reaches the app as it arrives`, async (t) => {
      if (!requirePeer(t, haveUwsgi, 'uwsgi')) return;
      const first = Buffer.alloc(300_000, 'x');
      const rest = Buffer.alloc(200_000, 'y');
      const answer = await answersBeforeTheEnd(srv!.port, `${prefix}/echo-stream`, first, rest);
      assert.match(answer.toString('latin1', 0, 20), /^HTTP\/1\.1 200/);
      const head = answer.toString('latin1', 0, answer.indexOf('\r\n\r\n'));
      assert.match(head, /transfer-encoding: chunked/i);
      let body = answer.subarray(head.length + 4).toString('latin1');
      let echoed = '';
      for (;;) {
        const eol = body.indexOf('\r\n');
        const size = parseInt(body.slice(0, eol), 16);
        assert.ok(
          eol > 0 && size >= 0 && body.length >= eol + 4 + size,
          `a whole chunk, not ${JSON.stringify(body.slice(0, 40))} after ${echoed.length} bytes`,
        );
        if (size === 0) break;
        echoed += body.slice(eol + 2, eol + 2 + size);
        body = body.slice(eol + 4 + size);
      }
      assert.equal(echoed, first.toString('latin1') + rest.toString('latin1'));
    });
  }

  test('an upstream silent for --upstream-timeout: 504 and a log line, for each protocol', async (t) => {
    if (!requirePeer(t, haveUwsgi, 'uwsgi')) return;
    const statuses = await Promise.all(PROTOCOLS.map(([, prefix]) => fetch(`${srv!.url}${prefix}/sleep?4`).then((r) => r.status)));
    assert.deepEqual(statuses, [504, 504, 504]);
    for (const [protocol, prefix] of PROTOCOLS) {
      await srv!.waitForLog(
        new RegExp(
          `${protocol} upstream unix:.*${prefix.slice(1)}\\.sock sent nothing for 1\\.5s \\(while handling GET ${prefix}/sleep\\?4\\)`,
        ),
      );
    }
  });

  test('uWSGI down: 502 and a log line for each protocol; back up: served again, no descriptor left behind', async (t) => {
    if (!requirePeer(t, haveUwsgi, 'uwsgi')) return;
    const fds = (): number => readdirSync(`/proc/${srv!.proc.pid}/fd`).length;
    const before = fds();
    const exited = new Promise((r) => uwsgi!.once('exit', r));
    uwsgi!.kill('SIGTERM');
    await exited;
    for (const [protocol, prefix] of PROTOCOLS) {
      const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${srv!.url}${prefix}/environ`).then((r) => r.status)));
      assert.deepEqual(statuses, Array(20).fill(502));
      await srv!.waitForLog(new RegExp(`${protocol} upstream unix:.*${prefix.slice(1)}\\.sock is down`));
    }
    uwsgi = startUwsgi();
    await socketsUp();
    for (const [, prefix] of PROTOCOLS)
      assert.equal((await fetch(`${srv!.url}${prefix}/environ`)).status, 200, `${prefix} after uWSGI came back`);
    let after = fds();
    for (let i = 0; i < 40 && after > before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = fds();
    }
    assert.ok(after <= before, `gateway descriptors: ${before} before the outage, ${after} after`);
  });
});
