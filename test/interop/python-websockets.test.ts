// The WebSocket codec (src/protocols/websocket/) against a real peer: Python's websockets
// (Debian's python3-websockets 10.4, on /usr/bin/python3) connects to a small echo server
// built here on node:net with nothing but the codec: the HTTP parser reads the head,
// checkHandshake and negotiateDeflate judge it, acceptResponse answers, FrameParser reads
// the frames (big compressed messages inflate in zlib's thread pool: next() gives a
// Promise), and every message is sent back compressed when permessage-deflate was
// negotiated. The client (test/fixtures/websocket/echo_client.py) sends text, binary,
// 1 MiB and fragmented messages, 200 messages in flight, a ping, and closes; it checks
// every echo, the negotiated extension and the echoed close code. Three runs: no
// compression, websockets' default deflate offer, and an offer for an 8-bit server window
// without client context takeover. Skipped with the reason outside CI when the module is
// missing; in CI it must be there.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NEED_DATA, RequestParser } from '../../src/protocols/http1/parse.js';
import { CloseHandshake } from '../../src/protocols/websocket/close.js';
import { PerMessageDeflate, negotiateDeflate } from '../../src/protocols/websocket/deflate.js';
import { FrameParser, encodeMessage, encodePong } from '../../src/protocols/websocket/frames.js';
import { acceptResponse, checkHandshake } from '../../src/protocols/websocket/handshake.js';
import { SYSTEM_PYTHON, pythonHas, requirePeer } from '../helpers/server.js';

const CLIENT = fileURLToPath(new URL('../../../test/fixtures/websocket/echo_client.py', import.meta.url));
const havePeer = pythonHas(SYSTEM_PYTHON, 'websockets');

interface Tally {
  /** Bytes of frames received after the handshake. */
  wire: number;
  /** Bytes of the messages they carried. */
  messages: number;
  errors: unknown[];
}

/** One connection of the echo server: the handshake, then every message sent back, pings answered, the close echoed. */
function serveConnection(socket: net.Socket, tally: Tally): void {
  const head = new RequestParser();
  let parser: FrameParser | null = null;
  let deflate: PerMessageDeflate | null = null;
  const closing = new CloseHandshake();
  let chain = Promise.resolve();

  const onHead = (chunk: Buffer): void => {
    head.receive(chunk);
    const ev = head.next();
    if (ev === NEED_DATA || ev.kind !== 'request') return;
    const ws = checkHandshake(ev);
    if (ws === null || ws.kind === 'reject') {
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    const negotiated = negotiateDeflate(ws.extensions);
    deflate = negotiated === null ? null : new PerMessageDeflate(negotiated.params);
    socket.write(acceptResponse(ws, { extensions: negotiated?.header ?? null, headers: [['Server', 'warpipe-test']] }));
    parser = new FrameParser({ maxMessage: 8 * 1024 * 1024, deflate });
  };

  const onFrames = async (chunk: Buffer): Promise<void> => {
    tally.wire += chunk.length;
    parser!.receive(chunk);
    for (let ev = parser!.next(); ev !== NEED_DATA; ev = parser!.next()) {
      if (ev instanceof Promise) ev = await ev;
      switch (ev.kind) {
        case 'message': {
          tally.messages += ev.data.length;
          const compressed = deflate !== null && ev.data.length >= deflate.threshold;
          const payload = compressed ? await deflate!.compress(ev.data) : ev.data;
          for (const frame of encodeMessage(ev.text, payload, { compressed, maxFrame: 100_000 })) socket.write(frame);
          break;
        }
        case 'ping':
          socket.write(encodePong(ev.data));
          break;
        case 'pong':
          break;
        case 'close': {
          const reply = closing.received(ev);
          if (reply !== null) socket.write(reply);
          socket.end();
          return;
        }
        case 'fail':
          tally.errors.push(new Error(`the client's frames failed: ${ev.code} ${ev.reason}`));
          socket.end(closing.close(ev.code, ev.reason) ?? Buffer.alloc(0));
          return;
      }
    }
  };

  socket.on('data', (chunk: Buffer) => {
    chain = chain
      .then(() => (parser === null ? onHead(chunk) : onFrames(chunk)))
      .catch((err: unknown) => {
        tally.errors.push(err);
        socket.destroy();
      });
  });
  socket.on('error', (err) => tally.errors.push(err));
}

function runClient(port: number, mode: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(SYSTEM_PYTHON, [CLIENT, `ws://127.0.0.1:${port}/echo`, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('close', (code) => resolve({ code, out })); // after the last of its output, as 'exit' may not be
  });
}

describe('the WebSocket codec against Python websockets (Debian python3-websockets)', () => {
  let server: net.Server;
  let tally: Tally = { wire: 0, messages: 0, errors: [] };
  before(async () => {
    server = net.createServer((socket) => serveConnection(socket, tally));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const mode of ['plain', 'deflate', 'deflate-8']) {
    test(`echo of text, binary, 1 MiB, fragmented and in-flight messages, ping and close: ${mode}`, async (t) => {
      if (!requirePeer(t, havePeer, `Python's websockets for ${SYSTEM_PYTHON} (Debian python3-websockets)`)) return;
      tally = { wire: 0, messages: 0, errors: [] };
      const { code, out } = await runClient((server.address() as net.AddressInfo).port, mode);
      assert.equal(code, 0, out);
      assert.match(out, /\nok\n$/, out);
      assert.deepEqual(tally.errors, []);
      assert.ok(tally.messages > 2 * 1024 * 1024, `${tally.messages} bytes of messages`);
      if (mode === 'plain') assert.ok(tally.wire > tally.messages, 'uncompressed frames carry more than their messages');
      else assert.ok(tally.wire < tally.messages * 0.75, `compressed: ${tally.wire} bytes on the wire for ${tally.messages}`);
    });
  }
});
