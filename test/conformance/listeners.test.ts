// The PEP 3333 conformance suite (pipeline.suite.ts) over each listener: a real
// gateway with real workers, spoken to over the wire as its peer would.

import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { startServer, type Server } from '../helpers/server.js';
import { encodeScgiHead } from '../../src/protocols/scgi/netstring.js';
import { encodeUwsgiHead } from '../../src/protocols/uwsgi/packet.js';
import { encodeParams } from '../../src/protocols/fastcgi/params.js';
import { RecordType, Role, beginRequestBody, encodeRecord } from '../../src/protocols/fastcgi/record.js';
import { runConformance, type Request, type Response, type Target } from './pipeline.suite.js';

/**
 * Connect to `where` (a port or a unix path), send `data`, collect everything until the server closes.
 * (Nothing empty is written: the SCGI and uwsgi listeners close as soon as the request is read and
 * answered, and a write after that, even of nothing, is EPIPE.)
 */
function talk(where: number | string, data: Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = typeof where === 'number' ? net.connect(where, '127.0.0.1') : net.connect(where);
    const got: Buffer[] = [];
    sock.on('connect', () => {
      for (const d of data) if (d.length > 0) sock.write(d);
    });
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    sock.on('close', () => resolve(Buffer.concat(got)));
  });
}

/** A head (`Status:` or an HTTP status line) and what follows it. */
function splitHead(bytes: Buffer): { status: number; headers: Map<string, string>; rest: Buffer } {
  const end = bytes.indexOf('\r\n\r\n');
  assert.ok(end >= 0, `no head in ${JSON.stringify(bytes.toString('latin1', 0, 200))}`);
  const lines = bytes.toString('latin1', 0, end).split('\r\n');
  const first = lines[0]!;
  const m = /^(?:HTTP\/1\.[01] |Status: )(\d{3})/.exec(first);
  const headers = new Map<string, string>();
  for (const line of lines.slice(m && first.startsWith('HTTP/') ? 1 : 0)) {
    const i = line.indexOf(':');
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  const status = m ? Number(m[1]) : Number((headers.get('status') ?? '200').slice(0, 3));
  return { status, headers, rest: bytes.subarray(end + 4) };
}

const cgiParams = (req: Request): [string, string][] => [
  ['CONTENT_LENGTH', String(req.body?.length ?? 0)],
  ['SCGI', '1'],
  ['REQUEST_METHOD', req.method],
  ['PATH_INFO', req.path],
  ['QUERY_STRING', req.query ?? ''],
  ['SERVER_NAME', 'localhost'],
  ['SERVER_PORT', '80'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REMOTE_ADDR', '127.0.0.1'],
  ...(req.headers ?? []).map(([n, v]): [string, string] => [`HTTP_${n.toUpperCase().replace(/-/g, '_')}`, v]),
];

const stopper = (srv: Server) => async (): Promise<void> => {
  assert.equal(await srv.stop(), 0);
};

runConformance('HTTP/1.1', async (app, args) => {
  const srv = await startServer(app, { args });
  const send = async (req: Request): Promise<Response> => {
    const target = req.path + (req.query ? `?${req.query}` : '');
    const fields = [
      `Host: localhost`,
      'Connection: close',
      ...(req.headers ?? []).map(([n, v]) => `${n}: ${v}`),
      ...(req.body ? [`Content-Length: ${req.body.length}`] : []),
    ];
    const bytes = await talk(srv.port, [
      Buffer.from(`${req.method} ${target} HTTP/1.1\r\n${fields.join('\r\n')}\r\n\r\n`),
      req.body ?? Buffer.alloc(0),
    ]);
    const { status, headers, rest } = splitHead(bytes);
    if (headers.get('transfer-encoding') === 'chunked') {
      const parts: Buffer[] = [];
      let off = 0;
      for (;;) {
        const eol = rest.indexOf('\r\n', off);
        if (eol < 0) return { status, headers, body: Buffer.concat(parts), aborted: true };
        const size = parseInt(rest.toString('latin1', off, eol), 16);
        if (size === 0) return { status, headers, body: Buffer.concat(parts), aborted: false };
        if (eol + 2 + size > rest.length)
          return { status, headers, body: Buffer.concat([...parts, rest.subarray(eol + 2)]), aborted: true };
        parts.push(rest.subarray(eol + 2, eol + 2 + size));
        off = eol + 2 + size + 2;
      }
    }
    const length = headers.has('content-length') ? Number(headers.get('content-length')) : -1;
    return { status, headers, body: rest, aborted: length >= 0 && rest.length < length };
  };
  return { send, detectsAbort: true, stop: stopper(srv) } satisfies Target;
});

runConformance('FastCGI', async (app, args) => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-conf-fcgi-`);
  const srv = await startServer(app, { args: [...args, '--fastcgi', `unix:${dir}/fcgi.sock`] });
  const send = async (req: Request): Promise<Response> => {
    const stdin: Buffer[] = [];
    for (let off = 0; off < (req.body?.length ?? 0); off += 65535)
      stdin.push(encodeRecord(RecordType.Stdin, 1, req.body!.subarray(off, off + 65535)));
    const bytes = await talk(`${dir}/fcgi.sock`, [
      encodeRecord(RecordType.BeginRequest, 1, beginRequestBody(Role.Responder, 0)),
      encodeRecord(RecordType.Params, 1, encodeParams(cgiParams(req))),
      encodeRecord(RecordType.Params, 1),
      ...stdin,
      encodeRecord(RecordType.Stdin, 1),
    ]);
    const out: Buffer[] = [];
    let ended = false;
    for (let off = 0; off + 8 <= bytes.length; off += 8 + bytes.readUInt16BE(off + 4) + bytes[off + 6]!) {
      if (bytes[off + 1] === RecordType.Stdout) out.push(bytes.subarray(off + 8, off + 8 + bytes.readUInt16BE(off + 4)));
      if (bytes[off + 1] === RecordType.EndRequest) ended = true;
    }
    const { status, headers, rest } = splitHead(Buffer.concat(out));
    return { status, headers, body: rest, aborted: !ended };
  };
  return { send, detectsAbort: true, stop: stopper(srv) } satisfies Target;
});

for (const [name, flag, encode] of [
  ['SCGI', '--scgi', encodeScgiHead],
  ['uwsgi', '--uwsgi', encodeUwsgiHead],
] as const) {
  runConformance(name, async (app, args) => {
    const dir = mkdtempSync(`${tmpdir()}/warpipe-conf-${name}-`);
    const srv = await startServer(app, { args: [...args, flag, `unix:${dir}/gw.sock`] });
    const send = async (req: Request): Promise<Response> => {
      const bytes = await talk(`${dir}/gw.sock`, [encode(cgiParams(req)), req.body ?? Buffer.alloc(0)]);
      const { status, headers, rest } = splitHead(bytes);
      return { status, headers, body: rest, aborted: false };
    };
    return { send, detectsAbort: false, stop: stopper(srv) } satisfies Target;
  });
}
