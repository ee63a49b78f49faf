// A raw HTTP/1.1 client for tests that need exact bytes on the wire: hostile
// requests, pipelining, slow clients. Parses responses strictly enough to count
// and check them (status, headers, Content-Length or chunked bodies).

import net from 'node:net';

export interface RawResponse {
  status: number;
  reason: string;
  headers: Map<string, string>;
  body: Buffer;
}

/** Send `data` (optionally in pieces with pauses), collect everything until the server closes or `idleMs` passes. */
export function exchange(
  port: number,
  data: string | Buffer | (string | Buffer)[],
  options: { idleMs?: number; pauseMs?: number; host?: string } = {},
): Promise<{ bytes: Buffer; closed: boolean }> {
  const idleMs = options.idleMs ?? 1500;
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, options.host ?? '127.0.0.1');
    const got: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout;
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ bytes: Buffer.concat(got), closed });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    };
    sock.on('data', (d) => {
      got.push(d);
      arm();
    });
    sock.on('end', () => {
      closed = true;
      done();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') {
        closed = true;
        done();
      } else reject(err);
    });
    sock.on('connect', async () => {
      const parts = Array.isArray(data) ? data : [data];
      for (const part of parts) {
        if (sock.destroyed) break;
        sock.write(part);
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
      arm();
    });
  });
}

/** Parse every complete response in `bytes`. HEAD responses need `headFor` to skip bodies. */
export function parseResponses(bytes: Buffer, headFor: boolean[] = []): RawResponse[] {
  const out: RawResponse[] = [];
  let off = 0;
  while (off < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const lines = bytes.toString('latin1', off, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      const name = line.slice(0, i).toLowerCase();
      const value = line.slice(i + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    const status = Number(m[1]);
    off = end + 4;
    let body: Buffer = Buffer.alloc(0);
    const isHead = headFor[out.length] ?? false;
    if (status === 100) continue;
    if (isHead || status === 204 || status === 304) {
      // no body
    } else if (headers.get('transfer-encoding') === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', off);
        if (lineEnd < 0) return out; // incomplete
        const size = parseInt(bytes.toString('latin1', off, lineEnd), 16);
        off = lineEnd + 2;
        if (size === 0) {
          off += 2;
          break;
        }
        parts.push(bytes.subarray(off, off + size));
        off += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers.has('content-length')) {
      const n = Number(headers.get('content-length'));
      body = bytes.subarray(off, off + n);
      off += n;
    } else {
      body = bytes.subarray(off);
      off = bytes.length;
    }
    out.push({ status, reason: m[2]!, headers, body });
  }
  return out;
}

/** One request, one parsed response. */
export async function rawRequest(
  port: number,
  data: string | Buffer,
  options: { idleMs?: number } = {},
): Promise<RawResponse & { closed: boolean }> {
  const { bytes, closed } = await exchange(port, data, options);
  const [res] = parseResponses(bytes);
  if (!res) throw new Error(`no response; got ${JSON.stringify(bytes.toString('latin1'))}`);
  return { ...res, closed };
}
