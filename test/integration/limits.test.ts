// --max-connections and --max-connections-per-ip: connections over either are
// answered 503 at once (Retry-After, Connection: close), cost no worker, and
// are said in the log once per 10 s; a place freed is taken again.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, type Server } from '../helpers/server.js';

/** An open connection that has sent nothing yet. */
function hold(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

/** One request on a new connection: the raw answer. */
function ask(port: number, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () =>
      s.write('GET /sized?5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(got).toString('latin1')));
  });
}

describe('connection limits', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--max-connections', '4', '--max-connections-per-ip', '2'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('per IP: the third connection from one address gets 503; another address still gets in', async () => {
    const held = [await hold(srv.port), await hold(srv.port)];
    const refused = await ask(srv.port);
    assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(refused, /\r\nRetry-After: 1\r\n/);
    assert.match(refused, /\r\nConnection: close\r\n/);
    assert.match(await ask(srv.port, '127.0.0.2'), /^HTTP\/1\.1 200 OK\r\n/);
    await srv.waitForLog(/refusing connections: already holding 2 connections from 127\.0\.0\.1 \(--max-connections-per-ip\)/);
    held[0]!.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await ask(srv.port), /^HTTP\/1\.1 200 OK\r\n/, 'a freed place is taken again');
    held[1]!.destroy();
  });

  test('overall: over --max-connections everybody gets 503 until a place is freed', async () => {
    const held = [
      await hold(srv.port, '127.0.0.3'),
      await hold(srv.port, '127.0.0.3'),
      await hold(srv.port, '127.0.0.4'),
      await hold(srv.port, '127.0.0.4'),
    ];
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await ask(srv.port, '127.0.0.5'), /^HTTP\/1\.1 503 /);
    held.pop()!.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await ask(srv.port, '127.0.0.5'), /^HTTP\/1\.1 200 OK\r\n/);
    for (const s of held) s.destroy();
  });
});
