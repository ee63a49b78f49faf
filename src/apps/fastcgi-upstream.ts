// A FastCGI upstream as a pipeline App (--mount PREFIX=fastcgi://ADDRESS with
// --document-root DIR): warpipe as the web server in front of php-fpm (or any
// FastCGI responder), nginx's fastcgi_pass role.
//
// The script is found in the document root before the upstream is asked:
// PATH_INFO is split after its first `.php` segment (nginx's
// fastcgi_split_path_info), the script must be a regular file under the root
// (symlinks resolved), and a path holding a newline or NUL is refused. So the
// php-fpm PATH_INFO underflow (CVE-2019-11043, reached with `%0a` through
// fastcgi_split_path_info) and scripts that do not exist never reach php-fpm.
// Connections can be kept alive (FCGI_KEEP_CONN, --upstream-keepalive) and
// reused, one request at a time; by default each request has its own.

import net from 'node:net';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { GatewayError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { Address } from '../config/load.js';
import type { App, Body, Environ, Input } from '../pipeline/types.js';
import { UpstreamReply } from './feed.js';
import { NEED_DATA } from '../protocols/need-data.js';
import { encodeParams } from '../protocols/fastcgi/params.js';
import {
  FCGI_KEEP_CONN, ProtocolStatus, RecordReader, RecordType, Role, beginRequestBody, encodeRecord, encodeStream, parseEndRequest,
} from '../protocols/fastcgi/record.js';

export interface FastcgiUpstreamOptions {
  address: Address;
  documentRoot: string;
  /** Seconds to wait for the upstream's first bytes (and between them). */
  timeout: number;
  /**
   * Idle connections kept per upstream (FCGI_KEEP_CONN); 0: one connection per
   * request. php-fpm gives each kept connection a child of its own until the
   * connection closes, so more kept connections than pm.max_children starve it.
   */
  keepalive: number;
}

const REQUEST_ID = 1;

function plain(status: string, text: string): { status: string; body: Body; headers: [string, string][] } {
  return { status, body: [text], headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', String(text.length)]] };
}

/** Where the script is: [script path under the root, the PATH_INFO after it], or null (404). */
export function splitScript(pathInfo: string): [string, string] | null {
  if (/[\n\r\0\\]/.test(pathInfo)) return null;
  const segments = pathInfo.split('/');
  if (segments.some((s) => s === '..')) return null;
  const i = segments.findIndex((s) => s.endsWith('.php') && s.length > 4);
  if (i < 0) return pathInfo.endsWith('/') ? [`${pathInfo}index.php`, ''] : null;
  return [segments.slice(0, i + 1).join('/'), segments.length > i + 1 ? `/${segments.slice(i + 1).join('/')}` : ''];
}

export function fastcgiUpstream(options: FastcgiUpstreamOptions, log: Logger): App {
  const idle: net.Socket[] = [];
  const where = options.address.kind === 'unix' ? `unix:${options.address.path}` : `${options.address.host}:${options.address.port}`;
  let rootReal: Promise<string> | null = null;

  const connect = (): Promise<net.Socket> => {
    const reuse = idle.pop();
    if (reuse) return Promise.resolve(reuse);
    return new Promise((resolve, reject) => {
      const sock = options.address.kind === 'unix' ? net.connect(options.address.path) : net.connect(options.address.port, options.address.host);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(sock);
      });
      sock.once('error', reject);
    });
  };

  const release = (sock: net.Socket): void => {
    sock.removeAllListeners('data');
    sock.removeAllListeners('error');
    sock.removeAllListeners('close');
    sock.setTimeout(0);
    if (options.keepalive === 0 || idle.length >= options.keepalive || sock.destroyed) {
      sock.destroy();
      return;
    }
    sock.on('error', () => {});
    sock.once('close', () => {
      const i = idle.indexOf(sock);
      if (i >= 0) idle.splice(i, 1);
    });
    idle.push(sock);
  };

  return async (environ: Environ, startResponse) => {
    const split = splitScript(String(environ.PATH_INFO ?? ''));
    rootReal ??= realpath(options.documentRoot);
    const root = await rootReal;
    let filename: string | null = null;
    if (split !== null) {
      try {
        const real = await realpath(join(root, split[0]));
        if ((real.startsWith(root + sep)) && (await stat(real)).isFile()) filename = real;
      } catch {
        // no such script
      }
    }
    if (split === null || filename === null) {
      const r = plain('404 Not Found', 'Not Found\n');
      startResponse(r.status, r.headers);
      return r.body;
    }
    const [script, pathInfo] = split;

    const params: [string, string][] = [];
    for (const key in environ) {
      const v = environ[key];
      if (typeof v === 'string' && !key.startsWith('wsgi.') && key !== 'HTTP_PROXY') params.push([key, v]);
    }
    const scriptName = String(environ.SCRIPT_NAME ?? '') + script;
    const set = (name: string, value: string): void => {
      const i = params.findIndex(([n]) => n === name);
      if (i >= 0) params[i] = [name, value];
      else params.push([name, value]);
    };
    set('SCRIPT_FILENAME', filename);
    set('SCRIPT_NAME', scriptName);
    set('PATH_INFO', pathInfo);
    if (pathInfo) set('PATH_TRANSLATED', join(root, pathInfo));
    set('DOCUMENT_ROOT', root);
    set('DOCUMENT_URI', scriptName + pathInfo);
    set('GATEWAY_INTERFACE', 'CGI/1.1');
    set('REDIRECT_STATUS', '200'); // php-cgi's force-cgi-redirect guard

    const input = environ['wsgi.input'] as Input;
    const body = await input.readAll();

    let sock: net.Socket;
    try {
      sock = await connect();
    } catch (err) {
      log.error(`fastcgi upstream ${where} is down: ${(err as Error).message} (while handling ${environ.REQUEST_METHOD} ${environ.REQUEST_URI ?? environ.PATH_INFO})`);
      throw new GatewayError(codes.UPSTREAM_DOWN, `fastcgi upstream ${where} is down`, 502, { cause: err });
    }

    return new Promise<Body>((resolve, reject) => {
      const reader = new RecordReader();
      const reply = new UpstreamReply(startResponse, resolve, reject, () => {});
      let ended = false;
      const fail = (err: GatewayError): void => {
        ended = true;
        sock.destroy();
        reply.fail(err);
      };
      sock.setTimeout(options.timeout * 1000, () => {
        log.error(`fastcgi upstream ${where} sent nothing for ${options.timeout}s (while handling ${environ.REQUEST_METHOD} ${environ.REQUEST_URI ?? environ.PATH_INFO})`);
        fail(new GatewayError(codes.UPSTREAM_TIMEOUT, `fastcgi upstream ${where} timed out`, 504));
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        if (!ended) {
          log.error(`fastcgi upstream ${where} closed the connection mid-response`);
          fail(new GatewayError(codes.UPSTREAM_BAD_RESPONSE, `fastcgi upstream ${where} closed the connection`, 502));
        }
      });
      sock.on('data', (chunk: Buffer) => {
        try {
          reader.receive(chunk);
          for (let rec = reader.next(); rec !== NEED_DATA; rec = reader.next()) {
            if (rec.requestId !== REQUEST_ID) continue;
            if (rec.type === RecordType.Stdout) {
              reply.receive(rec.content);
            } else if (rec.type === RecordType.Stderr) {
              const text = rec.content.toString('utf8').trimEnd();
              if (text) log.warning(`fastcgi upstream ${where}: ${text}`);
            } else if (rec.type === RecordType.EndRequest) {
              const { protocolStatus } = parseEndRequest(rec.content);
              ended = true;
              if (reply.started) release(sock);
              else sock.destroy();
              reply.end(() => {
                const why = protocolStatus === ProtocolStatus.RequestComplete ? 'it ended the request without a response head' : `it refused the request (protocol status ${protocolStatus})`;
                log.error(`fastcgi upstream ${where}: ${why}`);
                return new GatewayError(codes.UPSTREAM_BAD_RESPONSE, `fastcgi upstream ${where}: ${why}`, 502);
              });
              return;
            }
          }
        } catch (err) {
          log.error(`fastcgi upstream ${where}: ${(err as Error).message}`);
          fail(err instanceof GatewayError ? err : new GatewayError(codes.UPSTREAM_BAD_RESPONSE, String(err), 502));
        }
      });
      sock.cork();
      sock.write(encodeRecord(RecordType.BeginRequest, REQUEST_ID, beginRequestBody(Role.Responder, options.keepalive > 0 ? FCGI_KEEP_CONN : 0)));
      for (const r of encodeStream(RecordType.Params, REQUEST_ID, encodeParams(params))) sock.write(r);
      sock.write(encodeRecord(RecordType.Params, REQUEST_ID));
      if (body.length > 0) for (const r of encodeStream(RecordType.Stdin, REQUEST_ID, body)) sock.write(r);
      sock.write(encodeRecord(RecordType.Stdin, REQUEST_ID));
      sock.uncork();
    });
  };
}
