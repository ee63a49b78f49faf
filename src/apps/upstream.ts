// What every upstream (--mount fastcgi://, uwsgi://, scgi://) does alike: name
// and dial its address, turn the environ into CGI variables, and send the
// request body on as it arrives.

import net from 'node:net';
import type { Address } from '../address.js';
import type { Environ, Input } from '../pipeline/types.js';
import type { FeedSource } from './feed.js';

export function dial(address: Address): net.Socket {
  return address.kind === 'unix' ? net.connect(address.path) : net.connect(address.port, address.host);
}

/** `GET /path?query`, for log lines. */
export function requestName(environ: Environ): string {
  return `${environ.REQUEST_METHOD} ${String(environ.REQUEST_URI ?? environ.PATH_INFO)}`;
}

/**
 * The environ's CGI variables for an upstream: every string entry but
 * `wsgi.*`, and never HTTP_PROXY (the `Proxy` request header; httpoxy).
 */
export function cgiParams(environ: Environ): [string, string][] {
  const params: [string, string][] = [];
  for (const key in environ) {
    const v = environ[key];
    if (typeof v === 'string' && !key.startsWith('wsgi.') && key !== 'HTTP_PROXY') params.push([key, v]);
  }
  return params;
}

/** Set `name` in `params`, in place if it is there. */
export function setParam(params: [string, string][], name: string, value: string): void {
  const i = params.findIndex(([n]) => n === name);
  if (i >= 0) params[i] = [name, value];
  else params.push([name, value]);
}

/**
 * The request body as an upstream needs it. FastCGI, SCGI and uwsgi servers
 * read CONTENT_LENGTH bytes (SCGI requires the header), so a body of unknown
 * length (a chunked upload too large for the listener to have held) is read
 * whole first and CONTENT_LENGTH set, as nginx does; a body of known length is
 * streamed.
 */
export async function upstreamBody(environ: Environ, params: [string, string][]): Promise<Input | Buffer> {
  const input = environ['wsgi.input'] as Input;
  if (input.buffered !== null) return input.buffered;
  if (environ.CONTENT_LENGTH !== undefined && environ.CONTENT_LENGTH !== '') return input;
  const body = await input.readAll();
  setParam(params, 'CONTENT_LENGTH', String(body.length));
  return body;
}

/**
 * Write `body` to `sock` as it arrives, each piece through `frame` (which may
 * wrap it in records), waiting for the socket to drain; `done` ends the stream
 * (the FastCGI empty STDIN record). Stops quietly when the socket is gone.
 */
export async function pumpBody(
  sock: net.Socket,
  body: Input | Buffer,
  frame: (chunk: Uint8Array) => Uint8Array[],
  done: Uint8Array[] = [],
): Promise<void> {
  const send = (chunk: Uint8Array): boolean => {
    let ok = true;
    for (const piece of frame(chunk)) ok = sock.write(piece);
    return ok;
  };
  if (Buffer.isBuffer(body)) {
    if (body.length > 0) send(body);
  } else {
    for await (const chunk of body) {
      if (sock.destroyed) return;
      if (!send(chunk)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            sock.off('drain', go);
            sock.off('close', go);
            resolve();
          };
          sock.on('drain', go);
          sock.on('close', go);
        });
      }
    }
  }
  if (!sock.destroyed) for (const piece of done) sock.write(piece);
}

/**
 * A Feed's source over an upstream socket: paused while a slow client lags, and
 * its inactivity timeout (--upstream-timeout) off meanwhile, since the wait is
 * not the upstream's fault. `over`: the socket is no longer this request's.
 */
export function socketSource(sock: net.Socket, timeoutSeconds: number, over: () => boolean = () => false): FeedSource {
  return {
    pause: () => {
      if (over()) return;
      sock.pause();
      sock.setTimeout(0);
    },
    resume: () => {
      if (over()) return;
      sock.setTimeout(timeoutSeconds * 1000);
      sock.resume();
    },
  };
}
