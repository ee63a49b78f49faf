// The bench's h2load runner (bench/h2load.ts) against real servers: real h2load
// (Debian nghttp2-client) for one second against node:http2 and node:http
// servers in this process. It must read h2load's summary and latencies, and
// refuse a run in which requests failed or another protocol was negotiated:
// the bench keeps no numbers from such a run. No benchmark figure is checked.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http, { type Server } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { getOver, runH2load } from '../../bench/h2load.js';
import { requirePeer } from '../helpers/server.js';

const haveH2load = spawnSync('h2load', ['--version'], { stdio: 'ignore' }).status === 0;
const H2LOAD = 'h2load (Debian package nghttp2-client)';

async function listen(server: Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

const close = (server: Server | http2.Http2Server): Promise<void> => new Promise((done) => server.close(() => done()));

/** An h2c server answering "ok", or 503 to every `failEvery`th request. */
function h2cServer(failEvery = 0): http2.Http2Server {
  let n = 0;
  return http2.createServer((_req, res) => {
    n++;
    res.writeHead(failEvery > 0 && n % failEvery === 0 ? 503 : 200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
}

test('h2load: an h2c run is read into requests, req/s and latencies', async (t) => {
  if (!requirePeer(t, haveH2load, H2LOAD)) return;
  const server = h2cServer();
  const port = await listen(server);
  try {
    assert.deepEqual(await getOver('h2c', port, '/', 30_000), { status: 200, body: 'ok' });
    const r = await runH2load({ port, path: '/', protocol: 'h2c', seconds: 1, connections: 2, streams: 4, threads: 1 });
    assert.ok(r.requests > 0, `requests ${r.requests}`);
    assert.ok(Math.abs(r.rps * r.seconds - r.requests) < 1, `${r.rps} req/s x ${r.seconds} s = ${r.requests} requests`);
    assert.ok(r.p50ms > 0 && r.p50ms <= r.p99ms && r.p99ms <= r.maxms, `p50 ${r.p50ms} p99 ${r.p99ms} max ${r.maxms}`);
    assert.deepEqual(r.errors, { connect: 0, read: 0, write: 0, timeout: 0, status: 0 });
  } finally {
    await close(server);
  }
});

test("h2load: a second run's latencies are its own (h2load appends to its request log)", async (t) => {
  if (!requirePeer(t, haveH2load, H2LOAD)) return;
  const server = h2cServer();
  const port = await listen(server);
  try {
    const o = { port, path: '/', protocol: 'h2c' as const, seconds: 1, connections: 1, streams: 2, threads: 1 };
    await runH2load(o);
    // runH2load refuses a run whose log holds other than its own requests done: the first run's would still be there
    const second = await runH2load(o);
    assert.ok(second.requests > 0);
  } finally {
    await close(server);
  }
});

test('h2load: a run with 5xx answers fails, with the counts', async (t) => {
  if (!requirePeer(t, haveH2load, H2LOAD)) return;
  const server = h2cServer(3);
  const port = await listen(server);
  try {
    await assert.rejects(
      runH2load({ port, path: '/', protocol: 'h2c', seconds: 1, connections: 1, streams: 2, threads: 1 }),
      /answered 4xx and [1-9]\d* 5xx/,
    );
  } finally {
    await close(server);
  }
});

test('h2load: --h1 speaks HTTP/1.1, and h2c to an HTTP/1.1-only server fails as another protocol', async (t) => {
  if (!requirePeer(t, haveH2load, H2LOAD)) return;
  const server = http.createServer((_req, res) => res.end('ok'));
  const port = await listen(server);
  try {
    const r = await runH2load({ port, path: '/', protocol: 'h1', seconds: 1, connections: 2, streams: 10, threads: 1 });
    assert.ok(r.requests > 0);
    await assert.rejects(
      runH2load({ port, path: '/', protocol: 'h2c', seconds: 1, connections: 1, streams: 2, threads: 1 }),
      /negotiated .*not h2c|no request succeeded/,
    );
  } finally {
    server.closeAllConnections();
    await close(server);
  }
});
