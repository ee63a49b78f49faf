// Issue 11, item 6: a kept FastCGI connection flooded with 8-byte management
// records whose replies it never read made the gateway hold ~25 times the
// flood (4.4 GB) and stall other clients in GC. Replies are output like any
// other: reading stops while --buffer-response of it waits unread, and
// --send-timeout closes a client that reads none of it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { peakMiB, rssMiB } from '../helpers/memory.js';
import { encodeParams } from '../../src/protocols/fastcgi/params.js';
import { RecordType, Role, beginRequestBody, encodeRecord } from '../../src/protocols/fastcgi/record.js';

describe('--fastcgi: management records whose replies are never read', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-fcgi-flood-`);
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--fastcgi', `unix:${dir}/fcgi.sock`, '--send-timeout', '3'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('40 MB of unknown-type records: the gateway stops reading, others are served, the flooder is closed', async () => {
    const pid = srv.proc.pid!;
    const before = rssMiB(pid);
    const block = Buffer.concat(Array.from({ length: 8192 }, () => encodeRecord(27, 0))); // 64 KiB of 8-byte records
    const flooder = net.connect(`${dir}/fcgi.sock`);
    flooder.pause(); // never reads a reply
    let sent = 0;
    const closed = new Promise<void>((resolve) => flooder.on('close', () => resolve()));
    flooder.on('error', () => {});
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (sent < 40 * 1024 * 1024 && !flooder.destroyed) {
          sent += block.length;
          if (!flooder.write(block)) return void flooder.once('drain', pump);
        }
        resolve();
      };
      flooder.on('connect', pump);
      flooder.on('close', () => resolve());
    });
    // meanwhile another client is served
    const other = await new Promise<string>((resolve, reject) => {
      const got: Buffer[] = [];
      const sock = net.connect(`${dir}/fcgi.sock`, () =>
        sock.write(
          Buffer.concat([
            encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, 0)),
            encodeRecord(
              RecordType.Params,
              1,
              encodeParams([
                ['REQUEST_METHOD', 'GET'],
                ['PATH_INFO', '/sized'],
                ['QUERY_STRING', '3'],
                ['SERVER_NAME', 'x'],
                ['SERVER_PORT', '80'],
              ]),
            ),
            encodeRecord(RecordType.Params, 1),
            encodeRecord(RecordType.Stdin, 1),
          ]),
        ),
      );
      sock.on('data', (d: Buffer) => got.push(d));
      sock.on('error', reject);
      sock.on('close', () => resolve(Buffer.concat(got).toString('latin1')));
    });
    assert.match(other, /Status: 200 OK\r\n[\s\S]*sss/);
    await closed; // --send-timeout: it read none of its replies
    await srv.waitForLog(/fastcgi: closing a connection whose client read nothing for 3s/);
    const grew = peakMiB(pid) - before;
    assert.ok(grew < 100, `the gateway grew by ${grew.toFixed(0)} MiB while ${(sent / 1048576).toFixed(0)} MiB of records were sent`);
  });
});
