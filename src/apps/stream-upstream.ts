// uwsgi and SCGI upstreams as pipeline Apps (--mount PREFIX=uwsgi://ADDRESS,
// --mount PREFIX=scgi://ADDRESS): warpipe in front of uWSGI's `--socket` or any
// SCGI server, nginx's uwsgi_pass / scgi_pass role. Both protocols carry one
// request per connection: a head of CGI variables (a uwsgi packet with
// modifier1 0, or an SCGI netstring with CONTENT_LENGTH first and SCGI=1),
// then CONTENT_LENGTH bytes of body, streamed; the answer (an HTTP status line
// from uWSGI, a CGI head from SCGI servers) is read to the end of the
// connection.

import { GatewayError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import { addressName, type Address } from '../address.js';
import type { App, Body, Environ } from '../pipeline/types.js';
import { encodeScgiHead } from '../protocols/scgi/netstring.js';
import { encodeUwsgiHead } from '../protocols/uwsgi/packet.js';
import { UpstreamReply } from './feed.js';
import { cgiParams, dial, pumpBody, requestName, socketSource, upstreamBody } from './upstream.js';

export type StreamProtocol = 'uwsgi' | 'scgi';

export interface StreamUpstreamOptions {
  protocol: StreamProtocol;
  address: Address;
  /** Seconds the upstream may stay silent before its client gets 504. */
  timeout: number;
}

function encodeHead(protocol: StreamProtocol, params: [string, string][], environ: Environ): Buffer {
  if (protocol === 'uwsgi') {
    params.push(['UWSGI_SCHEME', String(environ['wsgi.url_scheme'] ?? 'http')]);
    return encodeUwsgiHead(params);
  }
  // SCGI: CONTENT_LENGTH first (always present, "0" without a body), then SCGI=1
  const i = params.findIndex(([n]) => n === 'CONTENT_LENGTH');
  const length = i >= 0 ? params.splice(i, 1)[0]![1] || '0' : '0';
  return encodeScgiHead([['CONTENT_LENGTH', length], ['SCGI', '1'], ...params]);
}

const identity = (chunk: Uint8Array): Uint8Array[] => [chunk];

export function streamUpstream(options: StreamUpstreamOptions, log: Logger): App {
  const { protocol } = options;
  const where = addressName(options.address);
  return async (environ: Environ, startResponse) => {
    const params = cgiParams(environ);
    const body = await upstreamBody(environ, params);
    const head = encodeHead(protocol, params, environ);
    const what = requestName(environ);
    const sock = dial(options.address);
    return new Promise<Body>((resolve, reject) => {
      const reply = new UpstreamReply(startResponse, resolve, reject, () => void sock.destroy(), socketSource(sock, options.timeout));
      let connected = false;
      const fail = (err: GatewayError): void => {
        sock.destroy();
        reply.fail(err);
      };
      sock.setTimeout(options.timeout * 1000, () => {
        log.error(`${protocol} upstream ${where} sent nothing for ${options.timeout}s (while handling ${what})`);
        fail(new GatewayError(codes.UPSTREAM_TIMEOUT, `${protocol} upstream ${where} timed out`, 504));
      });
      sock.once('connect', () => {
        connected = true;
        sock.write(head);
        pumpBody(sock, body, identity).catch((err: Error) => {
          log.error(`${protocol} upstream ${where}: the request body was cut short: ${err.message} (while handling ${what})`);
          fail(new GatewayError(codes.UPSTREAM_BAD_RESPONSE, 'the request body was cut short', 502));
        });
      });
      sock.on('error', (err) => {
        if (connected) {
          // (like nginx: an upstream that closes before reading the whole request body is an error too)
          log.error(`${protocol} upstream ${where}: ${err.message} (while handling ${what})`);
          return fail(new GatewayError(codes.UPSTREAM_BAD_RESPONSE, `${protocol} upstream ${where}: ${err.message}`, 502));
        }
        log.error(`${protocol} upstream ${where} is down: ${err.message} (while handling ${what})`);
        fail(new GatewayError(codes.UPSTREAM_DOWN, `${protocol} upstream ${where} is down`, 502, { cause: err }));
      });
      sock.on('data', (chunk: Buffer) => {
        try {
          reply.receive(chunk);
        } catch (err) {
          log.error(`${protocol} upstream ${where}: ${(err as Error).message}`);
          fail(err as GatewayError);
        }
      });
      sock.on('end', () => {
        reply.end(() => {
          log.error(`${protocol} upstream ${where} closed the connection without a response (while handling ${what})`);
          return new GatewayError(codes.UPSTREAM_BAD_RESPONSE, `${protocol} upstream ${where} sent no response`, 502);
        });
      });
    });
  };
}
