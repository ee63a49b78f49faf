// ASGI 3 apps through the gateway (issue 15): a plain ASGI app on the python3 first
// on PATH (test/fixtures/asgi/probe.py), its HTTP, lifespan, concurrency,
// disconnects, timeouts and WebSockets, with real processes and raw clients.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { ASGI_DIR, runCli, startServer, type Server } from '../helpers/server.js';
import { exchange, rawRequest, type RawResponse } from '../helpers/raw.js';
import { WsClient } from '../helpers/ws-client.js';

/** Wait until `path` exists and holds `pattern` (the app writes notes there). */
async function note(path: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`${path} never held ${pattern} (it holds ${JSON.stringify(text)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('ASGI: a plain app on one worker', () => {
  let srv: Server;
  let notes: string;
  before(async () => {
    notes = mkdtempSync(`${tmpdir()}/warpipe-asgi-`);
    srv = await startServer('probe:app', {
      cwd: ASGI_DIR,
      args: ['--workers', '1', '--websocket-max-message', '65536'],
      env: { LIFESPAN_DIR: notes },
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
    // lifespan shutdown ran on the drain, in the worker that ran startup
    assert.equal(readFileSync(`${notes}/shutdown`, 'utf8'), readFileSync(`${notes}/startup`, 'utf8'));
  });

  test('detected as ASGI; lifespan startup ran before it served; the scope is built from the request', async () => {
    assert.match(srv.logs(), /worker \d+ ready \(python [\d.]+, asgi on (asyncio|uvloop), 100 streams, lifespan on/);
    assert.match(readFileSync(`${notes}/startup`, 'utf8'), /^\d+\n$/);
    assert.equal(await (await fetch(`${srv.url}/hello`)).text(), 'hello from asgi');
    const scope = await (await fetch(`${srv.url}/scope?a=1&b=%C3%A9`, { headers: { 'X-Thing': 'one' } })).text();
    assert.match(scope, /'http_version': '1\.1'/);
    assert.match(scope, /'method': 'GET'/);
    assert.match(scope, /'scheme': 'http'/);
    assert.match(scope, /'path': '\/scope'/);
    assert.match(scope, /'raw_path': b'\/scope'/);
    assert.match(scope, /'query_string': b'a=1&b=%C3%A9'/);
    assert.match(scope, /'client': \('127\.0\.0\.1', \d+\)/);
    assert.match(scope, /\(b'x-thing', b'one'\)/);
  });

  test('one worker serves many requests at once: twenty that each wait for all twenty are answered', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${srv.url}/barrier?n=20&name=twenty`).then((r) => r.text())));
    assert.deepEqual(new Set(answers), new Set(['all 20 here']));
  });

  test('a request body larger than --buffer-request-body streams to the app in pieces (more_body)', async () => {
    const body = Buffer.alloc(3 << 20);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
    const res = await fetch(`${srv.url}/echo`, { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.ok(Number(res.headers.get('x-pieces')) > 1, `pieces: ${res.headers.get('x-pieces')}`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
  });

  test('a streamed response arrives in pieces: the first before the app is let go on', async () => {
    const res = await fetch(`${srv.url}/stream-until-released`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value!).toString(), 'first\n');
    assert.equal(await (await fetch(`${srv.url}/release`)).text(), 'released');
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.equal(rest, 'second\n');
  });

  test('a client that leaves before the answer: the app receives http.disconnect', async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n');
    await srv.waitForLog(/./); // (the request is on its way; leaving at any point must be told)
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    assert.equal(await note(`${notes}/disconnect`, /http\.disconnect/), 'http.disconnect\n');
  });

  test("a client that leaves a streamed response: the app's send raises OSError", async () => {
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.write('GET /stream-forever HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => sock.once('data', () => resolve()));
    sock.destroy();
    assert.match(await note(`${notes}/stream-ended`, /OSError/), /OSError after \d+/);
  });

  test('http.response.pathsend sends the file by path', async () => {
    const res = await fetch(`${srv.url}/pathsend`);
    assert.equal(res.headers.get('content-type'), 'text/x-python');
    assert.equal(await res.text(), readFileSync(`${ASGI_DIR}/probe.py`, 'utf8'));
  });

  test('an app that fails before its head: 500 and the traceback; after it: the response is cut off', async () => {
    const before = await fetch(`${srv.url}/error-before`);
    assert.equal(before.status, 500);
    await srv.waitForLog(/ValueError: boom before the head/);
    const afterHead = await exchange(srv.port, 'GET /error-after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { idleMs: 20_000 });
    const raw = afterHead.bytes.toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK/);
    assert.ok(afterHead.closed && !raw.endsWith('0\r\n\r\n'), 'cut off: no clean end of the chunked body');
    await srv.waitForLog(/ValueError: boom after the head/);
  });

  test('WebSocket: accept with a subprotocol and headers, text and binary echo, fragments, the client closes', async () => {
    const ws = await WsClient.connect(srv.port, '/ws/echo', 'Sec-WebSocket-Protocol: chat, other\r\n');
    assert.match(ws.head, /^HTTP\/1\.1 101 Switching Protocols/);
    assert.match(ws.head, /\r\nsec-websocket-protocol: chat\r\n/i);
    assert.match(ws.head, /\r\nx-probe: yes/i);
    ws.sendText('hello');
    assert.equal(await ws.text(), 'echo: hello');
    const data = Buffer.alloc(40_000, 7);
    ws.sendBinary(data, 1000); // forty frames
    const back = await ws.next();
    assert.equal(back?.opcode, 2);
    assert.ok(back.payload.equals(data));
    ws.sendClose(1000, 'done');
    assert.equal(await ws.closeCode(), 1000);
    assert.match(await note(`${notes}/ws-disconnect`, /1000/), /1000 done/);
  });

  test('WebSocket: closed before accept is 403; an HTTP answer instead of accept goes as it is; a crash first is 500', async () => {
    const deny = await WsClient.connect(srv.port, '/ws/deny');
    assert.match(deny.head, /^HTTP\/1\.1 403 /);
    const http = await WsClient.connect(srv.port, '/ws/http');
    assert.match(http.head, /^HTTP\/1\.1 401 /);
    await http.until(() => http.rest.toString().includes('who are you?'));
    const crash = await WsClient.connect(srv.port, '/ws/crash');
    assert.match(crash.head, /^HTTP\/1\.1 500 /);
    for (const c of [deny, http, crash]) c.destroy();
  });

  test('WebSocket: a client that leaves before the app answers the handshake: the app hears websocket.disconnect at once', async () => {
    // it was never told: it waited on receive() until a ping found the socket gone (40 s by default), holding one
    // of its worker's streams, and an accept went to a closed socket (found by bench/chaos.ts)
    const socket = net.connect(srv.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      'GET /ws/unanswered HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await note(`${notes}/ws-unanswered`, /^\n$/); // the app has the handshake
    socket.destroy();
    assert.match(await note(`${notes}/ws-unanswered`, /websocket\./), /^\nwebsocket\.disconnect 1006\n$/);
    assert.equal(await (await fetch(`${srv.url}/hello`)).text(), 'hello from asgi');
  });

  test('WebSocket: a version other than 13 is refused with 426, Upgrade and the version spoken; a bad key: 400', async () => {
    // the 426 was a 500 ("app set hop-by-hop header Upgrade"): the server's own refusal went through the app's header check
    const before = srv.logs().length;
    const handshake = (headers: string): Promise<RawResponse & { closed: boolean }> =>
      rawRequest(srv.port, `GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n${headers}\r\n`);
    const version = await handshake('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n');
    assert.equal(version.status, 426);
    assert.equal(version.headers.get('upgrade'), 'websocket');
    assert.equal(version.headers.get('sec-websocket-version'), '13');
    assert.match(version.body.toString(), /Sec-WebSocket-Version must be 13/);
    const key = await handshake('Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n');
    assert.equal(key.status, 400);
    assert.doesNotMatch(srv.logs().slice(before), /ERROR/);
  });

  test('WebSocket: the app closes (4000), the app returns (1000), the app fails (1011)', async () => {
    const first = await WsClient.connect(srv.port, '/ws/close-first');
    assert.equal(await first.closeCode(), 4000);
    const exit = await WsClient.connect(srv.port, '/ws/echo');
    exit.sendText('exit');
    assert.equal(await exit.closeCode(), 1000);
    const crash = await WsClient.connect(srv.port, '/ws/echo');
    crash.sendText('crash');
    assert.equal(await crash.closeCode(), 1011);
    await srv.waitForLog(/RuntimeError: the app fails after accepting/);
    for (const c of [first, exit, crash]) c.destroy();
  });

  test('WebSocket: an unmasked frame is 1002, invalid UTF-8 is 1007, a message over --websocket-max-message is 1009', async () => {
    const unmasked = await WsClient.connect(srv.port, '/ws/echo');
    unmasked.sendFrame(1, Buffer.from('hi'), true);
    assert.equal(await unmasked.closeCode(), 1002);
    const utf8 = await WsClient.connect(srv.port, '/ws/echo');
    utf8.sendFrame(1, Buffer.from([0x68, 0xc3, 0x28]));
    assert.equal(await utf8.closeCode(), 1007);
    const big = await WsClient.connect(srv.port, '/ws/echo');
    big.sendBinary(Buffer.alloc(65537));
    assert.equal(await big.closeCode(), 1009);
    for (const c of [unmasked, utf8, big]) c.destroy();
    assert.equal(await (await fetch(`${srv.url}/hello`)).text(), 'hello from asgi', 'the worker serves on');
  });

  test('WebSocket: a client that never reads costs bounded memory and pauses the app, never the worker', async () => {
    const ws = await WsClient.connect(srv.port, '/ws/flood');
    ws.socket.pause(); // reads nothing
    // the app's sends stop once --buffer-response (1 MiB) and the socket buffers are full
    let last = -1;
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const sent = existsSync(`${notes}/flood`) ? readFileSync(`${notes}/flood`, 'utf8').trim().split('\n').length : 0;
      if (sent > 0 && sent === last) break;
      last = sent;
    }
    assert.ok(last > 0 && last < 256, `the app sent ${last} messages of 64 KiB to a client that reads nothing`);
    assert.equal(await (await fetch(`${srv.url}/hello`)).text(), 'hello from asgi', 'the worker serves on');
    ws.destroy();
    assert.match(await note(`${notes}/flood-ended`, /\d/), /\d+/);
  });
});

describe('ASGI: --timeout cancels a request, not its worker; a blocked loop replaces it', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('probe:app', { cwd: ASGI_DIR, args: ['--workers', '1', '--timeout', '1'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test("a request past --timeout gets 504, its task's stack is logged, and the worker goes on", async () => {
    const pid = await (await fetch(`${srv.url}/pid`)).text();
    assert.equal((await fetch(`${srv.url}/hang`)).status, 504);
    await srv.waitForLog(/GET \/hang timed out after [\d.]+s \(--timeout 1\); cancelling its task/);
    await srv.waitForLog(/probe\.py", line \d+, in app/);
    assert.equal(await (await fetch(`${srv.url}/pid`)).text(), pid, 'the same worker');
  });

  test('a synchronous call that blocks the loop: 504, the stacks, and a new worker', async () => {
    const pid = await (await fetch(`${srv.url}/pid`)).text();
    assert.equal((await fetch(`${srv.url}/block`)).status, 504);
    await srv.waitForLog(/its event loop is blocked/);
    await srv.waitForLog(/time\.sleep|in app/);
    await srv.waitForLog(new RegExp(`worker ${pid} exited \\(signal SIGKILL\\)`));
    await srv.waitForLog(/worker \d+ ready[^\n]*\n(?:.|\n)*worker \d+ ready/);
    assert.notEqual(await (await fetch(`${srv.url}/pid`)).text(), pid);
  });
});

describe('ASGI: boot', () => {
  test('a failed lifespan startup fails the boot (exit 3) with its message', async () => {
    const r = await runCli(['bad_startup:app', '--http', '127.0.0.1:0', '--workers', '1'], { cwd: ASGI_DIR });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /the database is not there/);
  });

  test('a wrong --interface fails the boot (exit 3) and says why', async () => {
    const wsgi = await runCli(['wsgi_hello:application', '--interface', 'asgi', '--http', '127.0.0.1:0', '--workers', '1'], {
      cwd: ASGI_DIR,
    });
    assert.equal(wsgi.code, 3);
    assert.match(wsgi.stderr, /not an ASGI|ASGI 3/);
    const asgi = await runCli(['probe:app', '--interface', 'wsgi', '--http', '127.0.0.1:0', '--workers', '1'], { cwd: ASGI_DIR });
    assert.equal(asgi.code, 3);
    assert.match(asgi.stderr, /ASGI/);
    const bad = await runCli(['probe:app', '--interface', 'rsgi'], { cwd: ASGI_DIR });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--interface must be one of auto, wsgi, asgi, got "rsgi"/);
  });
});

describe('ASGI: a worker that dies closes its WebSockets with 1011', () => {
  let srv: Server;
  before(async () => {
    srv = await startServer('probe:app', { cwd: ASGI_DIR, args: ['--workers', '1'] });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('kill -9 the worker: its WebSocket clients get 1011, and a new worker serves', async () => {
    const ws = await WsClient.connect(srv.port, '/ws/echo');
    ws.sendText('hi');
    assert.equal(await ws.text(), 'echo: hi');
    const pid = Number(await (await fetch(`${srv.url}/pid`)).text());
    process.kill(pid, 'SIGKILL');
    assert.equal(await ws.closeCode(), 1011);
    await srv.waitForLog(/respawning/);
    await srv.waitForLog(/worker \d+ ready[^\n]*\n(?:.|\n)*worker \d+ ready/);
    assert.equal(await (await fetch(`${srv.url}/hello`)).text(), 'hello from asgi');
  });
});
