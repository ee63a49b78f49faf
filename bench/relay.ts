// The least any Node front process adds in front of Python workers (issue 15's ASGI targets):
// a bare node:net relay that pairs each client connection with one to an upstream server and
// copies bytes both ways, reading nothing (upstream on a unix socket, as warpipe's workers are).
// In front of uvicorn (bench/servers.ts, uvicorn-relay) it is uvicorn's own work plus the
// cheapest hop a gateway can be: one read and one write on each side per request. warpipe's
// gateway does that hop and more (it parses and frames); its workers do less (no HTTP parsing).
//
//   node dist/bench/relay.js PORT UPSTREAM_SOCKET

import { type Socket, connect, createServer } from 'node:net';

const port = Number(process.argv[2]);
const upstream = process.argv[3];
if (!port || !upstream) {
  process.stderr.write('usage: node dist/bench/relay.js PORT UPSTREAM_SOCKET\n');
  process.exit(2);
}

/** Copy `from` to `to`, pausing `from` while `to` has more than it will take. */
function copy(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

createServer({ noDelay: true }, (client) => {
  const up = connect({ path: upstream });
  copy(client, up);
  copy(up, client);
  const both = (): void => {
    client.destroy();
    up.destroy();
  };
  client.on('error', both);
  up.on('error', both);
  client.on('close', both);
  up.on('close', both);
}).listen(port, '127.0.0.1');
