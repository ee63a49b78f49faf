// The access log (--access-log, --access-log-format): one line per request,
// written by the listener that answered it, because only the listener knows
// what reached the wire: the status the client got (a 400 from the parser, a
// 502 for a worker that died, 499 for a client that left), the body bytes
// sent, and when the response ended. (DESIGN.md pictures access logging as a
// Middleware; a middleware sees none of those.)
//
// Formats use nginx's variables, so a log_format line carries over:
//   combined (the default), common, json, or a template such as
//   '$remote_addr "$request" $status $request_time $http_x_request_id'
// Values are escaped as nginx does by default: `"`, `\`, control characters
// and bytes over 0x7e become \xHH, so a client cannot forge a log line.
//
// Who ended a request early: 499 is a client that left (nginx's code). A
// request the server cut off when the shutdown's --graceful-timeout ran out is
// 503 if nothing of its answer had left (the client got that 503), else the
// status that was being sent with the bytes that left; either way $cut says
// `shutdown` (the json format's "cut"; `-` / null otherwise).

import type { Environ } from './pipeline/types.js';
import type { LogFile } from './log-file.js';

/** One answered request, as the listener saw it. */
export interface AccessEntry {
  /** The request's environ; null when no request head could be read (a 400 for garbage, a 408). */
  readonly environ: Environ | null;
  readonly remoteAddr: string;
  readonly status: number;
  /** Response body bytes written to the client. */
  readonly bytes: number;
  /** performance.now() when the request head was read. */
  readonly started: number;
  /** 'http', 'fastcgi', 'scgi' or 'uwsgi'. */
  readonly listener: string;
}

type Value = (e: AccessEntry, now: number) => string;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clockSecond = -1;
let clockLocal = '';
let clockIso = '';

/** The wall clock, formatted once a second. */
function tick(): void {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second === clockSecond) return;
  clockSecond = second;
  const d = new Date(second * 1000);
  const two = (n: number): string => (n < 10 ? '0' : '') + n;
  clockLocal =
    `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  clockIso = d.toISOString().slice(0, 19) + '+00:00';
}

const str = (e: AccessEntry, key: string): string => {
  const v = e.environ?.[key];
  return typeof v === 'string' && v !== '' ? v : '-';
};

const requestUri = (e: AccessEntry): string => {
  const env = e.environ;
  if (env === null) return '-';
  if (typeof env.REQUEST_URI === 'string') return env.REQUEST_URI;
  return env.SCRIPT_NAME + env.PATH_INFO + (env.QUERY_STRING ? '?' + env.QUERY_STRING : '');
};

/** The user name of HTTP Basic credentials (what nginx's $remote_user and gunicorn's %(u)s show). */
const remoteUser = (e: AccessEntry): string => {
  const env = e.environ;
  if (env === null) return '-';
  if (typeof env.REMOTE_USER === 'string' && env.REMOTE_USER !== '') return env.REMOTE_USER;
  const auth = env.HTTP_AUTHORIZATION;
  if (typeof auth !== 'string' || !/^basic /i.test(auth)) return '-';
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : '-';
};

const seconds = (e: AccessEntry, now: number): string => ((now - e.started) / 1000).toFixed(3);

const VARIABLES: Record<string, Value> = {
  remote_addr: (e) => e.remoteAddr || '-',
  remote_user: remoteUser,
  time_local: () => (tick(), clockLocal),
  time_iso8601: () => (tick(), clockIso),
  msec: () => (Date.now() / 1000).toFixed(3),
  request: (e) => (e.environ === null ? '-' : `${e.environ.REQUEST_METHOD} ${requestUri(e)} ${e.environ.SERVER_PROTOCOL}`),
  request_method: (e) => str(e, 'REQUEST_METHOD'),
  request_uri: requestUri,
  uri: (e) => (e.environ === null ? '-' : e.environ.SCRIPT_NAME + e.environ.PATH_INFO || '/'),
  query_string: (e) => str(e, 'QUERY_STRING'),
  server_protocol: (e) => str(e, 'SERVER_PROTOCOL'),
  host: (e) => (e.environ === null ? '-' : str(e, typeof e.environ.HTTP_HOST === 'string' ? 'HTTP_HOST' : 'SERVER_NAME')),
  status: (e) => String(e.status),
  body_bytes_sent: (e) => String(e.bytes),
  request_time: seconds,
  request_time_us: (e, now) => String(Math.round((now - e.started) * 1000)),
  listener: (e) => e.listener,
  pid: () => String(process.pid),
  cut: (e) => str(e, 'warpipe.cut'),
};

/** Variables whose values are made here (numbers, times, an address), never from client bytes: not escaped. */
const SAFE = new Set([
  'remote_addr',
  'time_local',
  'time_iso8601',
  'msec',
  'status',
  'body_bytes_sent',
  'request_time',
  'request_time_us',
  'listener',
  'pid',
  'cut',
]);

const NAMED: Record<string, string> = {
  combined: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
  common: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent',
};

/** nginx's default escaping: nothing a client sent can end a field or a line. */
function escapeValue(s: string): string {
  if (!/["\\\x00-\x1f\x7f-\uffff]/.test(s)) return s;
  return s.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`;
  });
}

function variable(name: string): Value {
  const known = VARIABLES[name];
  if (known) return SAFE.has(name) ? known : (e, now) => escapeValue(known(e, now));
  if (name.startsWith('http_') && name.length > 5) {
    const key = 'HTTP_' + name.slice(5).toUpperCase();
    return (e) => escapeValue(str(e, key));
  }
  throw new Error(
    `unknown variable $${name} (known: ${Object.keys(VARIABLES)
      .map((k) => '$' + k)
      .join(', ')}, $http_NAME)`,
  );
}

/** A line maker for `format` (a named format or a template); throws a one-line Error for an unknown variable. */
export function compileFormat(format: string): (e: AccessEntry) => string {
  if (format === 'json') return jsonLine;
  const template = NAMED[format] ?? format;
  const parts: (string | Value)[] = [];
  const re = /\$(?:\{([a-z0-9_]+)\}|([a-z0-9_]+))/gi;
  let last = 0;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    parts.push(variable((m[1] ?? m[2]!).toLowerCase()));
    last = re.lastIndex;
  }
  if (last < template.length) parts.push(template.slice(last));
  if (!parts.some((p) => typeof p !== 'string'))
    throw new Error(`the format ${JSON.stringify(format)} has no $variable (or name one of: combined, common, json)`);
  return (e) => {
    const now = performance.now();
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(e, now);
    return out + '\n';
  };
}

function jsonLine(e: AccessEntry): string {
  const now = performance.now();
  tick();
  const env = e.environ;
  return (
    JSON.stringify({
      time: clockIso,
      remote_addr: e.remoteAddr || null,
      remote_user: nullIfDash(remoteUser(e)),
      method: env?.REQUEST_METHOD ?? null,
      uri: env === null ? null : requestUri(e),
      protocol: env?.SERVER_PROTOCOL ?? null,
      status: e.status,
      bytes: e.bytes,
      request_time: Number(seconds(e, now)),
      host: env === null ? null : nullIfDash(VARIABLES.host!(e, now)),
      referer: env?.HTTP_REFERER ?? null,
      user_agent: env?.HTTP_USER_AGENT ?? null,
      listener: e.listener,
      cut: typeof env?.['warpipe.cut'] === 'string' ? env['warpipe.cut'] : null,
    }) + '\n'
  );
}

const nullIfDash = (s: string): string | null => (s === '-' ? null : s);

/** What listeners tell about every request they answered: the access log, the metrics. */
export interface RequestObserver {
  record(entry: AccessEntry): void;
}

/** One observer for several (null for none). */
export function observeAll(observers: (RequestObserver | null)[]): RequestObserver | null {
  const all = observers.filter((o): o is RequestObserver => o !== null);
  if (all.length <= 1) return all[0] ?? null;
  return { record: (entry) => all.forEach((o) => o.record(entry)) };
}

/** A line per request to a LogFile, made by a compiled format (`compileFormat`). */
export class AccessLog implements RequestObserver {
  constructor(
    readonly file: LogFile,
    private readonly line: (e: AccessEntry) => string,
  ) {}

  record(entry: AccessEntry): void {
    this.file.write(this.line(entry));
  }
}
