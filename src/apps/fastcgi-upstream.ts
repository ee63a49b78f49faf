// A FastCGI upstream as a pipeline App (--mount PREFIX=fastcgi://ADDRESS with
// --document-root DIR): warpipe as the web server in front of php-fpm (or any
// FastCGI responder), nginx's fastcgi_pass role.
//
// The script is found in the document root before the upstream is asked:
// PATH_INFO is split after its first `.php` segment (nginx's
// fastcgi_split_path_info; or at the first executable file, for fcgiwrap), the
// script must be a regular file under the root (symlinks resolved), and a path
// holding a newline or NUL is refused. So the php-fpm PATH_INFO underflow
// (CVE-2019-11043, reached with `%0a` through fastcgi_split_path_info) and
// scripts that do not exist never reach php-fpm. With split `none` the
// upstream is the app itself (flup, web.py's runfcgi) and no file is looked for.
// The request body is streamed as STDIN records.
// Connections can be kept alive (FCGI_KEEP_CONN, --upstream-keepalive) and
// reused, one request at a time; by default each request has its own.

import type net from 'node:net';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { GatewayError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import { addressName, type Address } from '../address.js';
import type { App, Body, Environ, StartResponse } from '../pipeline/types.js';
import { findScript } from './cgi.js';
import { UpstreamReply } from './feed.js';
import { plainText } from '../pipeline/response.js';
import { cgiParams, dial, pumpBody, requestName, setParam, socketSource, upstreamBody } from './upstream.js';
import { NEED_DATA } from '../protocols/need-data.js';
import { encodeParams } from '../protocols/fastcgi/params.js';
import {
  FCGI_KEEP_CONN, ProtocolStatus, RecordReader, RecordType, Role, beginRequestBody, encodeRecord, encodeStream, parseEndRequest,
} from '../protocols/fastcgi/record.js';

/**
 * How a request path names the script the upstream runs (nginx's
 * fastcgi_split_path_info):
 * - `php`: the path up to its first `.php` segment (a directory: its
 *   index.php), the rest is PATH_INFO (php-fpm);
 * - `cgi`: the first segment that is an executable regular file, as --cgi
 *   finds scripts (fcgiwrap);
 * - `none`: no script file; the upstream is the app, SCRIPT_NAME is the mount
 *   and PATH_INFO the rest (flup, another warpipe --fastcgi).
 */
export type ScriptSplit = 'php' | 'cgi' | 'none';

export interface FastcgiUpstreamOptions {
  address: Address;
  split: ScriptSplit;
  /** Where scripts are (SCRIPT_FILENAME); not used with split `none`. */
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
const stdin = (chunk: Uint8Array): Uint8Array[] => (chunk.length > 0 ? encodeStream(RecordType.Stdin, REQUEST_ID, chunk) : []);

/** Where a `.php` script is: [script path under the root, the PATH_INFO after it], or null (404). */
export function splitScript(pathInfo: string): [string, string] | null {
  if (/[\n\r\0\\]/.test(pathInfo)) return null;
  const segments = pathInfo.split('/');
  if (segments.some((s) => s === '..')) return null;
  const i = segments.findIndex((s) => s.endsWith('.php') && s.length > 4);
  if (i < 0) return pathInfo.endsWith('/') ? [`${pathInfo}index.php`, ''] : null;
  return [segments.slice(0, i + 1).join('/'), segments.length > i + 1 ? `/${segments.slice(i + 1).join('/')}` : ''];
}

/** [the script's real path, its URL path, the PATH_INFO after it], or null (404). */
async function locateScript(root: string, pathInfo: string, split: 'php' | 'cgi'): Promise<[string, string, string] | null> {
  if (split === 'cgi') return findScript(root, pathInfo);
  const found = splitScript(pathInfo);
  if (found === null) return null;
  try {
    const real = await realpath(join(root, found[0]));
    if (real.startsWith(root + sep) && (await stat(real)).isFile()) return [real, found[0], found[1]];
  } catch {
    // no such script
  }
  return null;
}

/** Kept-alive connections to one upstream (--upstream-keepalive of them at most), reused last in, first out. */
function idlePool(options: FastcgiUpstreamOptions): { connect(): Promise<net.Socket>; release(sock: net.Socket): void } {
  const idle: net.Socket[] = [];
  const connect = (): Promise<net.Socket> => {
    const reuse = idle.pop();
    if (reuse) return Promise.resolve(reuse);
    return new Promise((resolve, reject) => {
      const sock = dial(options.address);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(sock);
      });
      sock.once('error', reject);
    });
  };
  const release = (sock: net.Socket): void => {
    if (sock.isPaused()) sock.resume(); // the answer's end came while a slow client held it back
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
  return { connect, release };
}

/** The script's CGI variables for a split mount (php-fpm, fcgiwrap); false when there is no such script (404). */
async function scriptParams(params: [string, string][], environ: Environ, root: string, split: 'php' | 'cgi'): Promise<boolean> {
  const found = await locateScript(root, String(environ.PATH_INFO ?? ''), split);
  if (found === null) return false;
  const [filename, script, pathInfo] = found;
  const scriptName = String(environ.SCRIPT_NAME ?? '') + script;
  setParam(params, 'SCRIPT_FILENAME', filename);
  setParam(params, 'SCRIPT_NAME', scriptName);
  setParam(params, 'PATH_INFO', pathInfo);
  if (pathInfo) setParam(params, 'PATH_TRANSLATED', join(root, pathInfo));
  setParam(params, 'DOCUMENT_ROOT', root);
  setParam(params, 'DOCUMENT_URI', scriptName + pathInfo);
  setParam(params, 'REDIRECT_STATUS', '200'); // php-cgi's force-cgi-redirect guard
  return true;
}

export function fastcgiUpstream(options: FastcgiUpstreamOptions, log: Logger): App {
  const { connect, release } = idlePool(options);
  const where = addressName(options.address);
  let rootReal: Promise<string> | null = null;

  return async (environ: Environ, startResponse) => {
    const params = cgiParams(environ);
    if (options.split !== 'none') {
      rootReal ??= realpath(options.documentRoot);
      if (!(await scriptParams(params, environ, await rootReal, options.split))) return plainText(startResponse, '404 Not Found', 'Not Found\n');
    }
    setParam(params, 'GATEWAY_INTERFACE', 'CGI/1.1');
    const body = await upstreamBody(environ, params);
    const what = requestName(environ);

    let sock: net.Socket;
    try {
      sock = await connect();
    } catch (err) {
      log.error(`fastcgi upstream ${where} is down: ${(err as Error).message} (while handling ${what})`);
      throw new GatewayError(codes.UPSTREAM_DOWN, `fastcgi upstream ${where} is down`, 502, { cause: err });
    }

    return new Promise<Body>((resolve, reject) => {
      const reader = new RecordReader();
      let ended = false;
      // PEP 3333 close() before the end (the client went away): stop the upstream
      const reply = new UpstreamReply(startResponse, resolve, reject, () => {
        if (ended) return;
        ended = true;
        sock.destroy();
      }, socketSource(sock, options.timeout, () => ended));
      let bodySent = false;
      const fail = (err: GatewayError): void => {
        ended = true;
        sock.destroy();
        reply.fail(err);
      };
      sock.setTimeout(options.timeout * 1000, () => {
        log.error(`fastcgi upstream ${where} sent nothing for ${options.timeout}s (while handling ${what})`);
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
              // a connection is reused only once the whole request went out on it
              if (reply.started && bodySent) release(sock);
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
      sock.uncork();
      pumpBody(sock, body, stdin, [encodeRecord(RecordType.Stdin, REQUEST_ID)]).then(
        () => void (bodySent = true),
        (err: Error) => {
          log.error(`fastcgi upstream ${where}: the request body was cut short: ${err.message} (while handling ${what})`);
          fail(new GatewayError(codes.UPSTREAM_BAD_RESPONSE, 'the request body was cut short', 502));
        },
      );
    });
  };
}
