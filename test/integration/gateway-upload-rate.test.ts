// --min-upload-rate on the gateway listeners (issue 12: it held on HTTP only):
// a body streamed to an app that waits on it, trickled under the floor but never
// silent for --body-timeout, is cut off, over SCGI, uwsgi and FastCGI alike.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { encodeScgiHead } from '../../src/protocols/scgi/netstring.js';
import { encodeUwsgiHead } from '../../src/protocols/uwsgi/packet.js';
import { encodeParams } from '../../src/protocols/fastcgi/params.js';
import { RecordType, Role, beginRequestBody, encodeRecord } from '../../src/protocols/fastcgi/record.js';

const SIZE = 1_000_000;
const cgi: [string, string][] = [['CONTENT_LENGTH', String(SIZE)], ['SCGI', '1'], ['REQUEST_METHOD', 'POST'], ['PATH_INFO', '/echo'],
  ['SERVER_NAME', 'x'], ['SERVER_PORT', '80']];

/** Send `head` and 200 KB at once, then 500 bytes every 100 ms; resolve with the ms until the server closes (null: open after 20 s). */
function trickle(path: string, head: Buffer, frame: (b: Buffer) => Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect(path, () => {
      sock.write(Buffer.concat([head, ...Array.from({ length: 4 }, () => frame(Buffer.alloc(50_000, 'a')))]));
      timer = setInterval(() => sock.write(frame(Buffer.alloc(500, 'b'))), 100);
    });
    let timer: NodeJS.Timeout | undefined;
    const give = setTimeout(() => sock.destroy(), 20_000);
    sock.on('error', () => {});
    sock.resume();
    sock.on('close', () => {
      clearInterval(timer);
      clearTimeout(give);
      const ms = Date.now() - t0;
      resolve(ms >= 20_000 ? null : ms);
    });
  });
}

describe('--min-upload-rate on --fastcgi, --scgi and --uwsgi', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-gw-rate-`);
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: ['--fastcgi', `unix:${dir}/fcgi.sock`, '--scgi', `unix:${dir}/scgi.sock`, '--uwsgi', `unix:${dir}/uwsgi.sock`,
        '--workers', '3', '--buffer-request-body', '64K', '--body-timeout', '2', '--min-upload-rate', '20000'],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('an upload trickled at 5 KB/s to an app that waits on it is cut off, though never silent for --body-timeout', async () => {
    const fcgiHead = Buffer.concat([
      encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, 0)),
      encodeRecord(RecordType.Params, 1, encodeParams(cgi)), encodeRecord(RecordType.Params, 1),
    ]);
    const closed = await Promise.all([
      trickle(`${dir}/scgi.sock`, encodeScgiHead(cgi), (b) => b),
      trickle(`${dir}/uwsgi.sock`, encodeUwsgiHead(cgi), (b) => b),
      trickle(`${dir}/fcgi.sock`, fcgiHead, (b) => encodeRecord(RecordType.Stdin, 1, b)),
    ]);
    // the rest of the megabyte would take over 3 minutes at this pace
    assert.ok(closed.every((ms) => ms !== null), `closed after ${JSON.stringify(closed)} ms`);
    for (const protocol of ['scgi', 'uwsgi', 'fastcgi']) {
      await srv.waitForLog(new RegExp(`${protocol}: closing a connection whose request body took longer than 2s or came slower than 20000 bytes/s`));
    }
  });
});
