// The platform's floor for the connection benchmarks (issue 13): a bare node:net
// server that answers every request on a connection with the hello scenario's
// fixed bytes, closing after it when the client asked (`Connection: close`).
// No parsing beyond finding the end of a head, no app, no worker: what accepting,
// reading, writing and closing a connection costs the same Node that runs warpipe.
// With `--uwsgi PATH` it is the floor behind nginx's uwsgi_pass instead: on a unix
// socket it reads one uwsgi packet (its 4-byte header says the size), answers the
// fixed bytes with an HTTP status line and closes, as uWSGI and `warpipe --uwsgi` do.
//
//   node dist/bench/floor.js PORT
//   node dist/bench/floor.js --uwsgi PATH

import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

const BODY = 'Hello, World!';
const head = (close: boolean): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n` +
  `Connection: ${close ? 'close' : 'keep-alive'}\r\n\r\n`;
const KEEP = Buffer.from(head(false) + BODY, 'latin1');
const CLOSE = Buffer.from(head(true) + BODY, 'latin1');
const END = Buffer.from('\r\n\r\n');
const CLOSE_HEADER = /\r\nconnection:[ \t]*close\r\n/i;

function uwsgiFloor(path: string): void {
  const answer = Buffer.from(`${head(true)}${BODY}`, 'latin1');
  rmSync(path, { force: true });
  createServer({ allowHalfOpen: true }, (socket) => {
    let got: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      // the 4-byte header's bytes 1-2 are the packet's size (a GET has no body after it)
      if (got.length < 4 || got.length < 4 + got.readUInt16LE(1)) return;
      // the packet is whole: the answer goes to the kernel, then the close
      socket.write(answer);
      socket.destroy();
    });
    socket.on('error', () => {});
  }).listen(path);
}

if (process.argv[2] === '--uwsgi' && process.argv[3]) uwsgiFloor(process.argv[3]);
else {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: node dist/bench/floor.js PORT | --uwsgi PATH\n');
    process.exit(2);
  }
  createServer((socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const close = CLOSE_HEADER.test(pending.slice(0, end + 2));
        pending = pending.slice(end + END.length);
        if (close) return void socket.end(CLOSE);
        socket.write(KEEP);
      }
    });
    socket.on('error', () => {});
  }).listen(port, '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
