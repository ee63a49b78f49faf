// A real HTTP/2 client for the tests: node:http2's, over h2c (prior knowledge)
// or TLS with ALPN h2, with one request's status, headers and whole body.

import http2 from 'node:http2';

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** Connect over h2c (`http://`) or h2 (`https://`, verification off: the tests' certificates are self-signed). */
export function h2connect(origin: string, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin, { rejectUnauthorized: false, settings });
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** One request on `session`: `headers` (a path string for a GET), an optional body. */
export function h2request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders | string,
  body?: Buffer | string,
): Promise<H2Response> {
  const h = typeof headers === 'string' ? { ':path': headers } : headers;
  return new Promise((resolve, reject) => {
    const req = session.request(h, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    let got: http2.IncomingHttpHeaders = {};
    req.on('response', (r) => {
      status = Number(r[':status']);
      got = r;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, headers: got, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

/** One GET over a connection of its own, closed after. */
export async function h2get(origin: string, path: string): Promise<H2Response> {
  const session = await h2connect(origin);
  try {
    return await h2request(session, path);
  } finally {
    session.close();
  }
}
