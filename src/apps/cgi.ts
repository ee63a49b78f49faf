// CGI scripts as a pipeline App (--cgi PREFIX=DIR), RFC 3875: each request
// runs the script it names, with the meta-variables as its environment, the
// body on its stdin, and its stdout parsed as a CGI response (Status,
// Location, headers, body); its stderr goes to the log.
//
// The script is the first path segment that names an executable regular file
// under DIR (symlinks resolved, never outside DIR); the rest is PATH_INFO. The
// environment is built from the request alone, not inherited from warpipe:
// nothing of the gateway's environment leaks into scripts, and the `Proxy`
// request header never becomes HTTP_PROXY (httpoxy, CVE-2016-5388).

import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { GatewayError, codes } from '../errors.js';
import type { Logger } from '../log.js';
import type { App, Body, Environ } from '../pipeline/types.js';
import { UpstreamReply } from './feed.js';
import { plainText } from '../pipeline/response.js';
import { cgiParams } from './upstream.js';

export interface CgiOptions {
  dir: string;
  /** Seconds a script may go without writing anything before it is killed (504). */
  timeout: number;
  serverSoftware: string;
}

const SAFE_PATH = '/usr/local/bin:/usr/bin:/bin';

/** [the script's real path, its URL path, the PATH_INFO after it], or null. */
export async function findScript(root: string, pathInfo: string): Promise<[string, string, string] | null> {
  if (/[\0\n\r\\]/.test(pathInfo)) return null;
  const segments = pathInfo.split('/');
  if (segments.some((s) => s === '..')) return null;
  for (let i = 1; i < segments.length; i++) {
    if (segments[i] === '') return null;
    const candidate = join(root, ...segments.slice(1, i + 1));
    let st;
    try {
      st = await stat(candidate);
    } catch {
      return null;
    }
    if (st.isDirectory()) continue;
    if (!st.isFile()) return null;
    const real = await realpath(candidate);
    if (!real.startsWith(root + sep)) return null;
    try {
      await access(real, constants.X_OK);
    } catch {
      return null;
    }
    const rest = segments.slice(i + 1);
    return [real, segments.slice(0, i + 1).join('/'), rest.length > 0 ? `/${rest.join('/')}` : ''];
  }
  return null;
}

/** @example router([['/cgi-bin', cgiScripts({ dir: '/srv/cgi-bin', timeout: 60, serverSoftware: 'warpipe' }, log)]], app) */
export function cgiScripts(options: CgiOptions, log: Logger): App {
  let rootReal: Promise<string> | null = null;
  return async (environ: Environ, startResponse) => {
    rootReal ??= realpath(options.dir);
    const root = await rootReal;
    const found = await findScript(root, String(environ.PATH_INFO ?? ''));
    if (found === null) return plainText(startResponse, '404 Not Found', 'Not Found\n');
    const [script, urlPath, pathInfo] = found;

    // RFC 3875 §4.1: the meta-variables, and nothing else (but a PATH to run with)
    const env: NodeJS.ProcessEnv = { PATH: SAFE_PATH };
    for (const [key, v] of cgiParams(environ)) env[key] = v;
    env.GATEWAY_INTERFACE = 'CGI/1.1';
    env.SERVER_SOFTWARE = options.serverSoftware;
    env.SCRIPT_NAME = String(environ.SCRIPT_NAME ?? '') + urlPath;
    env.SCRIPT_FILENAME = script;
    env.PATH_INFO = pathInfo;
    if (pathInfo) env.PATH_TRANSLATED = join(root, pathInfo);
    else delete env.PATH_TRANSLATED;
    env.REDIRECT_STATUS = '200';

    const what = `${environ.REQUEST_METHOD} ${environ.REQUEST_URI ?? environ.PATH_INFO}`;
    const child = spawn(script, [], { cwd: dirname(script), env, stdio: ['pipe', 'pipe', 'pipe'] });

    return new Promise<Body>((resolve, reject) => {
      let held = false;
      const reply = new UpstreamReply(
        startResponse,
        resolve,
        reject,
        () => {
          if (child.exitCode === null) child.kill('SIGTERM');
        },
        {
          // a slow client: stop reading the script's output, and stop timing it (the wait is not its fault)
          pause: () => {
            held = true;
            child.stdout.pause();
            clearTimeout(timer);
          },
          resume: () => {
            held = false;
            child.stdout.resume();
            touch();
          },
        },
      );
      const fail = (err: GatewayError): void => {
        child.kill('SIGKILL');
        reply.fail(err);
      };
      const expire = (): void => {
        log.error(`CGI script ${script} wrote nothing for ${options.timeout}s (while handling ${what}); killing it`);
        fail(new GatewayError(codes.UPSTREAM_TIMEOUT, `CGI script ${script} timed out`, 504));
      };
      let timer = setTimeout(expire, options.timeout * 1000);
      let exited = false;
      const touch = (): void => {
        clearTimeout(timer);
        if (!held) timer = setTimeout(expire, options.timeout * 1000);
      };
      child.on('error', (err) => {
        exited = true;
        clearTimeout(timer);
        log.error(`CGI script ${script} could not run: ${err.message}`);
        fail(new GatewayError(codes.UPSTREAM_DOWN, `CGI script ${script} could not run`, 502));
      });
      child.stderr.on('data', (d: Buffer) => {
        const text = d.toString('utf8').trimEnd();
        if (text) log.warning(`CGI ${script}: ${text}`);
      });
      child.stdout.on('data', (chunk: Buffer) => {
        touch();
        try {
          reply.receive(chunk);
        } catch (err) {
          log.error(`CGI script ${script}: ${(err as Error).message}`);
          fail(err as GatewayError);
        }
      });
      child.on('close', (code, signal) => {
        exited = true;
        clearTimeout(timer);
        reply.end(() => {
          const how = signal ? `signal ${signal}` : `code ${code}`;
          log.error(`CGI script ${script} exited with ${how} before sending a response head (while handling ${what})`);
          return new GatewayError(codes.UPSTREAM_BAD_RESPONSE, `CGI script ${script} sent no response`, 502);
        });
      });
      // the body, with backpressure; a script that does not read it just gets EPIPE
      child.stdin.on('error', () => {});
      // A script taking its body is making progress: each block it accepts restarts the timer too.
      void (async () => {
        for await (const chunk of environ['wsgi.input']) {
          if (child.stdin.destroyed) return;
          const more = child.stdin.write(chunk, (err) => err || exited || touch());
          if (!more) await new Promise((r) => (child.stdin.once('drain', r), child.stdin.once('close', r)));
        }
        child.stdin.end();
      })().catch(() => child.stdin.destroy());
    });
  };
}
