// The platform's floor for the connection benchmarks (issue 13): a bare node:net
// server that answers every request on a connection with the hello scenario's
// fixed bytes, closing after it when the client asked (`Connection: close`).
// No parsing beyond finding the end of a head, no app, no worker: what accepting,
// reading, writing and closing a connection costs the same Node that runs warpipe.
//
//   node dist/bench/floor.js PORT

import { createServer } from 'node:net';

const BODY = 'Hello, World!';
const head = (close: boolean): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n` +
  `Connection: ${close ? 'close' : 'keep-alive'}\r\n\r\n`;
const KEEP = Buffer.from(head(false) + BODY, 'latin1');
const CLOSE = Buffer.from(head(true) + BODY, 'latin1');
const END = Buffer.from('\r\n\r\n');
const CLOSE_HEADER = /\r\nconnection:[ \t]*close\r\n/i;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node dist/bench/floor.js PORT\n');
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
process.on('SIGTERM', () => process.exit(0));
