// Issue 16: the HTTP/2 denial-of-service classes, each attacked for real. A raw HTTP/2 attacker
// (test/fixtures/h2/attack.py on Debian's /usr/bin/python3, which has python3-h2's hpack and
// hyperframe) writes the frames a well-behaved client never would, on one connection, bounded in
// frames and seconds, and prints what the server did (GOAWAY and its code, RST_STREAM frames by
// code, responses, whether it closed). While it attacks, another client (node:http2's) is served
// on its own connection, and again after; the gateway's peak memory (VmHWM) stays far under what
// the attack would cost undefended. docs/security.md has the table these tests prove.
//
// Each test waits for events (the attacker's "attacking" line, its exit, a response), never for
// time. Limits are small where that keeps a test short (--http2-max-resets 50, --send-timeout 2,
// --limit-request-headers 16 KiB). Skipped with the reason outside CI when /usr/bin/python3
// cannot import h2; in CI it must.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { haveOpenssl, makeCertificate } from '../helpers/certs.js';
import { peakMiB } from '../helpers/memory.js';
import { SYSTEM_PYTHON, pythonHas, requirePeer, startServer, type Server } from '../helpers/server.js';

const H2_DIR = fileURLToPath(new URL('../../../test/fixtures/h2/', import.meta.url));
const ATTACKER = `${H2_DIR}attack.py`;
const havePeer = pythonHas(SYSTEM_PYTHON, 'h2');

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_PROTOCOL_ERROR } = http2.constants;

const MAX_RESETS = 50;
/** The gateway idles at ~60 MiB; an undefended attack here costs hundreds (50 MB of CONTINUATION, 2.9 GB of decoded HPACK). */
const MEMORY_BOUND_MIB = 256;

/** What attack.py printed: what the server did, and what the attack sent. */
interface Seen {
  goaway: number | null;
  last_stream_id: number | null;
  goaways: [number, number][];
  closed: boolean;
  rst_received: number;
  rst_codes: Record<string, number>;
  responses: number;
  statuses: Record<string, number>;
  data_bytes: number;
  sent_frames: number;
  seconds: number;
  streams?: Record<string, number | string> | number;
  [more: string]: unknown;
}

interface Attack {
  /** The connection is set up and the attack begins (or the attacker exited). */
  started: Promise<void>;
  result: Promise<Seen>;
}

function attack(port: number, kind: string, args: string[] = [], tls = false): Attack {
  const proc = spawn(SYSTEM_PYTHON, [ATTACKER, kind, '127.0.0.1', String(port), ...(tls ? ['--tls'] : []), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let begin: () => void = () => {};
  const started = new Promise<void>((resolve) => (begin = resolve));
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.includes('attacking')) begin();
  });
  const result = new Promise<Seen>((resolve, reject) => {
    // 'close', not 'exit': node may tell of the exit before the last of its output (the JSON) is read
    proc.on('close', (code) => {
      begin();
      if (code !== 0) return reject(new Error(`attack.py ${kind} exited ${code}: ${err}`));
      resolve(JSON.parse(out) as Seen);
    });
  });
  return { started, result };
}

/** One GET by node:http2's client on a connection of its own: the body of a 200, else an error. */
async function served(srv: Server, path = '/', tls = false): Promise<string> {
  const url = tls ? `https://127.0.0.1:${tlsPort(srv)}` : srv.url;
  const session = http2.connect(url, { rejectUnauthorized: false });
  try {
    return await new Promise<string>((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':path': path });
      let status = 0;
      let body = '';
      req.setEncoding('latin1');
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: string) => (body += d));
      req.on('end', () => (status === 200 ? resolve(body) : reject(new Error(`status ${status}: ${body}`))));
      req.on('error', reject);
    });
  } finally {
    session.close();
  }
}

const needPeer = (t: { skip(message?: string): void }): boolean =>
  requirePeer(t, havePeer, `${SYSTEM_PYTHON} with h2 (Debian's python3-h2), for the raw HTTP/2 attacker`);

const tlsPort = (srv: Server): number => Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(srv.logs())![1]);

/**
 * Run one attack; another client is served once the attack has begun and again after it; the
 * gateway's peak memory stays bounded. Returns what the attacker saw.
 */
async function underAttack(srv: Server, kind: string, args: string[] = [], tls = false): Promise<Seen> {
  const port = tls ? tlsPort(srv) : srv.port;
  const run = attack(port, kind, args, tls);
  await run.started;
  const during = served(srv, '/', tls);
  const seen = await run.result;
  assert.match(await during, /^hello from \d+/, 'another client is served during the attack');
  assert.match(await served(srv, '/', tls), /^hello from \d+/, 'and after it');
  const peak = peakMiB(srv.proc.pid!);
  assert.ok(peak < MEMORY_BOUND_MIB, `gateway peak ${peak.toFixed(0)} MiB after ${kind}: ${JSON.stringify(seen)}`);
  return seen;
}

/**
 * The server ended the connection: closed it, after a GOAWAY with an error code (not NO_ERROR) when the
 * attacker got to read one. It may not: a server that closes while the attacker's frames are still
 * arriving answers them with a TCP reset, and the kernel then drops what the attacker had not read yet.
 */
function assertCutOff(seen: Seen, what: string): void {
  const why = `${what}: ${JSON.stringify(seen)}`;
  assert.equal(seen.closed, true, `connection closed; ${why}`);
  if (seen.goaway !== null) assert.notEqual(seen.goaway, NGHTTP2_NO_ERROR, `GOAWAY with an error code; ${why}`);
  else assert.equal(seen.reset_by_server, true, `no GOAWAY, so a TCP reset; ${why}`);
}

/** A rapid reset's end: GOAWAY ENHANCE_YOUR_CALM near the cap, or the close that cut it off. */
function assertCalmed(seen: Seen, srv: Server): void {
  const why = JSON.stringify(seen);
  assert.equal(seen.closed, true, why);
  assert.ok((seen.streams as number) < 10_000, `the attack was cut short: ${why}`);
  // the GOAWAY names the last stream taken: near the cap, not the 10,000 sent. node tells of resets as
  // it reads: node 20 at once (stream 101 here); node 24 only after the whole read that brought them (one
  // 64 KiB read holds up to about 2,500 HEADERS + RST_STREAM pairs of this attack: streams 199 to 1,799
  // seen), so there nghttp2's own reset limit (1,000 at once) may end the connection first, with GOAWAY
  // INTERNAL_ERROR at stream 2,001 (docs/security.md)
  const calm = seen.goaways.find(([code]) => code === NGHTTP2_ENHANCE_YOUR_CALM);
  if (calm !== undefined) {
    assert.ok(calm[1] < 2 * (MAX_RESETS + 2_500), why);
    assert.match(srv.logs(), /sent GOAWAY ENHANCE_YOUR_CALM to 127\.0\.0\.1: \d+ streams reset within 10s/);
  } else if (seen.goaway === null) {
    // the close came while the attacker still wrote: its kernel answered with a TCP reset and dropped the GOAWAY
    assert.equal(seen.reset_by_server, true, why);
    assert.match(srv.logs(), /sent GOAWAY ENHANCE_YOUR_CALM to 127\.0\.0\.1/);
  } else {
    assert.notEqual(process.versions.node.split('.')[0], '20', `node 20 tells of each reset at once: ${why}`);
    assert.equal(seen.goaway, NGHTTP2_INTERNAL_ERROR, why);
    assert.ok(seen.last_stream_id! <= 2 * 1_000 + 1, why);
  }
}

describe('HTTP/2 denial-of-service classes against a real warpipe', () => {
  let srv: Server;
  before(async () => {
    if (!havePeer) return;
    srv = await startServer('app:application', {
      cwd: H2_DIR,
      args: ['--workers', '2', '--http2-max-resets', String(MAX_RESETS), '--limit-request-headers', '16384', '--send-timeout', '2'],
    });
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0);
  });

  // a client's RST_STREAM(NO_ERROR) before its answer is a reset as much as CANCEL (it went uncounted, leaving only
  // nghttp2's own limit of 1,000: GOAWAY INTERNAL_ERROR at stream 2,001)
  for (const [code, name] of [
    [NGHTTP2_CANCEL, 'CANCEL'],
    [NGHTTP2_NO_ERROR, 'NO_ERROR'],
  ] as const) {
    test(`rapid reset (CVE-2023-44487) with RST_STREAM(${name}): GOAWAY ENHANCE_YOUR_CALM after --http2-max-resets`, async (t) => {
      if (!needPeer(t)) return;
      const seen = await underAttack(srv, 'rapid-reset', ['--count', '10000', '--code', String(code)]);
      assertCalmed(seen, srv);
    });
  }

  test('MadeYouReset past --http2-max-resets and within --http2-max-streams: its GOAWAY ENHANCE_YOUR_CALM is sent', async (t) => {
    if (!needPeer(t)) return;
    // 100 streams, each reset by nghttp2 for DATA past its content-length: the 51st passes the cap as nghttp2 sends
    // its RST_STREAM, and the connection ends on the loop's next turn (a session destroyed inside that send closed
    // its socket without the GOAWAY, every time)
    // its socket without the GOAWAY, every time). Node 24 may end the connection itself first, as it does in the
    // attack below (GOAWAY INTERNAL_ERROR); node 20 leaves it to warpipe's cap.
    const calmed = (): number => srv.logs().match(/sent GOAWAY ENHANCE_YOUR_CALM/g)?.length ?? 0;
    const before = calmed();
    const seen = await underAttack(srv, 'made-you-reset', ['--how', 'data', '--count', '100']);
    const why = JSON.stringify(seen);
    assert.equal(seen.closed, true, why);
    if (process.versions.node.split('.')[0] === '20' || calmed() > before) assert.equal(seen.goaway, NGHTTP2_ENHANCE_YOUR_CALM, why);
    else assert.equal(seen.goaway, NGHTTP2_INTERNAL_ERROR, why);
  });

  for (const how of ['window', 'data']) {
    test(`made you reset (CVE-2025-8671), by ${how}: the connection ends long before the attack does`, async (t) => {
      if (!needPeer(t)) return;
      const seen = await underAttack(srv, 'made-you-reset', ['--how', how, '--count', '10000']);
      assertCutOff(seen, `made-you-reset ${how}`);
      // window: node ends the connection at the first WINDOW_UPDATE of 0 (GOAWAY INTERNAL_ERROR, stream 1).
      // data: nghttp2 resets each stream, and those streams count against the 100 concurrent ones until the
      // RST_STREAM frames are out, after the read that brought them: the connection ends within a read or two
      // past 100 streams (GOAWAY INTERNAL_ERROR), before warpipe's own count of resets is told of them.
      assert.ok((seen.streams as number) < 10_000, JSON.stringify(seen));
      if (seen.goaway !== null) assert.ok(seen.last_stream_id! < 2 * 400, JSON.stringify(seen));
    });
  }

  test('CONTINUATION flood (CVE-2024-27316, CVE-2024-28182): cut after a few frames, not 50 MB', async (t) => {
    if (!needPeer(t)) return;
    const seen = await underAttack(srv, 'continuation', ['--count', '3200']);
    assertCutOff(seen, 'continuation');
    assert.ok((seen.continuation_frames as number) < 3200, JSON.stringify(seen));
    assert.equal(seen.responses, 0, JSON.stringify(seen));
  });

  test('header list over --limit-request-headers / --limit-request-fields: that stream is refused, the connection serves on', async (t) => {
    if (!needPeer(t)) return;
    const seen = await underAttack(srv, 'header-list', ['--count', '500', '--size', '30000']);
    const why = JSON.stringify(seen);
    assert.deepEqual(seen.streams, { '1': 'reset', '3': 'reset', '5': 'ended' }, why);
    assert.equal(seen.rst_codes[String(NGHTTP2_ENHANCE_YOUR_CALM)], 2, why);
    assert.equal(seen.goaway, null, why);
    assert.deepEqual(seen.statuses, { '200': 1 }, why);
  });

  test('HPACK bomb (CVE-2016-6581): 16 KB blocks that decode to 58 MB each are refused, the connection serves on', async (t) => {
    if (!needPeer(t)) return;
    const seen = await underAttack(srv, 'hpack-bomb', ['--count', '50']);
    const why = JSON.stringify(seen);
    assert.equal(seen.rst_codes[String(NGHTTP2_ENHANCE_YOUR_CALM)], 50, why);
    assert.deepEqual(seen.streams, { ended: 1, reset: 50 }, why);
    assert.equal(seen.goaway, null, why);
  });

  for (const kind of ['settings-flood', 'ping-flood']) {
    test(`${kind} (CVE-2019-9515 / 9512), never reading the ACKs: the connection is closed`, async (t) => {
      if (!needPeer(t)) return;
      const seen = await underAttack(srv, kind, ['--count', '1000000']);
      const why = JSON.stringify(seen);
      assert.equal(seen.closed, true, why);
      assert.ok((seen.frames as number) < 1_000_000, why);
    });
  }

  test('empty DATA flood (CVE-2019-9518): GOAWAY and the close', async (t) => {
    if (!needPeer(t)) return;
    const seen = await underAttack(srv, 'empty-data-flood', ['--count', '1000000']);
    assertCutOff(seen, 'empty-data-flood');
    assert.ok((seen.frames as number) < 1_000_000, JSON.stringify(seen));
  });

  test('reset flood (CVE-2019-9514), never reading the RST_STREAMs: the connection is closed', async (t) => {
    if (!needPeer(t)) return;
    const seen = await underAttack(srv, 'reset-flood', ['--how', 'header', '--count', '100000']);
    const why = JSON.stringify(seen);
    assert.equal(seen.closed, true, why);
    assert.ok((seen.frames as number) < 100_000, why);
    assert.equal(seen.responses, 0, why);
  });

  test('more streams than --http2-max-streams: none beyond it is served', async (t) => {
    if (!needPeer(t)) return;
    const seen = await underAttack(srv, 'stream-limit', ['--count', '50']);
    const why = JSON.stringify(seen);
    assert.equal(seen.max_concurrent_streams, 100, why);
    // nghttp2 takes a stream over the limit it advertised (and the client acknowledged) as a
    // connection error: the GOAWAY names the 100th stream as the last one taken
    if (seen.goaway !== null) assert.ok(seen.last_stream_id! <= 2 * 100 - 1, why);
    else assert.equal(seen.refused_over_limit, 50, why);
  });
});

describe('HTTP/2 responses a client never reads, with one worker', () => {
  let srv: Server;
  before(async () => {
    if (!havePeer) return;
    srv = await startServer('app:application', { cwd: H2_DIR, args: ['--workers', '1', '--send-timeout', '2'] });
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0);
  });

  for (const size of [4 << 20, 1_000_000]) {
    const what = size > 1 << 20 ? 'over --buffer-response (the worker paused)' : 'within --buffer-response (the worker done)';
    test(`zero window, a ${size}-byte response ${what}: the stream is cut after --send-timeout`, async (t) => {
      if (!needPeer(t)) return;
      const seen = await underAttack(srv, 'zero-window', ['--path', `/big?${size}`]);
      const why = JSON.stringify(seen);
      assert.deepEqual(seen.streams, { '1': 'reset' }, why);
      assert.equal(seen.rst_codes[String(NGHTTP2_CANCEL)], 1, why);
      assert.equal(seen.data_bytes, 65535, why); // the initial window, no more
    });
  }

  test('window flood (CVE-2019-9517): 50 responses of 4 MiB to a client that reads nothing for a while', async (t) => {
    if (!needPeer(t)) return;
    const seen = await underAttack(srv, 'window-flood', ['--path', '/big', '--count', '50', '--hold', '5']);
    const why = JSON.stringify(seen);
    const streams = seen.streams as Record<string, number>;
    assert.equal(streams.open, undefined, why);
    assert.equal((streams.ended ?? 0) + (streams.reset ?? 0), 50, why);
    assert.equal(seen.rst_codes[String(NGHTTP2_PROTOCOL_ERROR)], undefined, why);
  });
});

describe('HTTP/2 over TLS (h2 by ALPN)', () => {
  let srv: Server;
  before(async () => {
    if (!havePeer || !haveOpenssl) return;
    const dir = mkdtempSync(`${tmpdir()}/warpipe-h2attack-`);
    makeCertificate(`${dir}/c.crt`, `${dir}/c.key`, 'localhost');
    srv = await startServer('app:application', {
      cwd: H2_DIR,
      args: ['--https', '127.0.0.1:0', '--certfile', `${dir}/c.crt`, '--keyfile', `${dir}/c.key`, '--http2-max-resets', String(MAX_RESETS)],
    });
  });
  after(async () => {
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('rapid reset over TLS: GOAWAY ENHANCE_YOUR_CALM', async (t) => {
    if (!needPeer(t) || !requirePeer(t, haveOpenssl, 'openssl (to make a certificate)')) return;
    const seen = await underAttack(srv, 'rapid-reset', ['--count', '10000'], true);
    const why = JSON.stringify(seen);
    assert.equal(seen.closed, true, why);
    assert.ok((seen.streams as number) < 10_000, why);
    // Known loss (about 1 run in 6 on node 20): the connection closes cleanly with no GOAWAY at all. As node's
    // source reads, Http2Session::Close queues the GOAWAY but, while a TLS write is in flight, marks the session
    // destroyed, and that write's completion ends it without sending what was queued. A GOAWAY that comes says why.
    if (seen.goaway !== null) assert.equal(seen.goaway, NGHTTP2_ENHANCE_YOUR_CALM, why);
  });
});
