// A uwsgi upstream as a pipeline App (--mount PREFIX=uwsgi://ADDRESS): warpipe
// in front of uWSGI's `--socket`, nginx's uwsgi_pass role. The request goes as
// one uwsgi packet (the environ's CGI variables, modifier1 0) and its body; the
// answer is an HTTP response read to the end of the connection, which carries
// one request.

import net from 'node:net';
import { GatewayError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { Address } from '../config/load.js';
import type { App, Body, Environ, Input } from '../pipeline/types.js';
import { encodeUwsgiHead } from '../protocols/uwsgi/packet.js';
import { UpstreamReply } from './feed.js';

export interface UwsgiUpstreamOptions {
  address: Address;
  /** Seconds the upstream may stay silent before its client gets 504. */
  timeout: number;
}

export function uwsgiUpstream(options: UwsgiUpstreamOptions, log: Logger): App {
  const where = options.address.kind === 'unix' ? `unix:${options.address.path}` : `${options.address.host}:${options.address.port}`;
  return async (environ: Environ, startResponse) => {
    const params: [string, string][] = [];
    for (const key in environ) {
      const v = environ[key];
      if (typeof v === 'string' && !key.startsWith('wsgi.') && key !== 'HTTP_PROXY') params.push([key, v]);
    }
    params.push(['UWSGI_SCHEME', String(environ['wsgi.url_scheme'] ?? 'http')]);
    const body = await (environ['wsgi.input'] as Input).readAll();
    const what = `${environ.REQUEST_METHOD} ${environ.REQUEST_URI ?? environ.PATH_INFO}`;
    const sock = options.address.kind === 'unix' ? net.connect(options.address.path) : net.connect(options.address.port, options.address.host);
    return new Promise<Body>((resolve, reject) => {
      const reply = new UpstreamReply(startResponse, resolve, reject, () => void sock.destroy());
      let connected = false;
      const fail = (err: GatewayError): void => {
        sock.destroy();
        reply.fail(err);
      };
      sock.setTimeout(options.timeout * 1000, () => {
        log.error(`uwsgi upstream ${where} sent nothing for ${options.timeout}s (while handling ${what})`);
        fail(new GatewayError(codes.UPSTREAM_TIMEOUT, `uwsgi upstream ${where} timed out`, 504));
      });
      sock.once('connect', () => {
        connected = true;
        sock.write(encodeUwsgiHead(params));
        if (body.length > 0) sock.write(body);
      });
      sock.on('error', (err) => {
        if (connected) return fail(new GatewayError(codes.UPSTREAM_BAD_RESPONSE, err.message, 502));
        log.error(`uwsgi upstream ${where} is down: ${err.message} (while handling ${what})`);
        fail(new GatewayError(codes.UPSTREAM_DOWN, `uwsgi upstream ${where} is down`, 502, { cause: err }));
      });
      sock.on('data', (chunk: Buffer) => {
        try {
          reply.receive(chunk);
        } catch (err) {
          log.error(`uwsgi upstream ${where}: ${(err as Error).message}`);
          fail(err as GatewayError);
        }
      });
      sock.on('end', () => {
        reply.end(() => {
          log.error(`uwsgi upstream ${where} closed the connection without a response (while handling ${what})`);
          return new GatewayError(codes.UPSTREAM_BAD_RESPONSE, `uwsgi upstream ${where} sent no response`, 502);
        });
      });
    });
  };
}
