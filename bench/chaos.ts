// A live fuzz of the gateway: valid requests of every protocol warpipe listens for (HTTP/1.1 with
// bodies, chunked, pipelined, Expect and a WebSocket; HTTP/2 in the clear; FastCGI, SCGI, uwsgi),
// mutated at random, written in random pieces, then ended, left open or cut, their answers read
// or never read. The codecs' own properties (test/fuzz) hold the parsers to their specs; this holds
// the connections around them: whatever a client does, the gateway must not crash, log a bug, or
// stop answering. Every connection is bounded (cut after --connection-ms), and so is the run.
//
//   node dist/bench/chaos.js [--connections N] [--seed S] [--concurrency C] [--connection-ms MS]
//                            [--kinds http-get,h2c,...] [--wsgi] [--proxy]
//
// It starts its own warpipe on unix sockets in a temporary directory (test/fixtures/asgi/probe.py,
// an ASGI app with WebSockets; --wsgi for test/fixtures/apps/hello.py), then checks that the
// gateway is alive, that every listener still answers a valid request, and that its log holds no
// "bug while" line and no uncaught error. A failure prints the seed (the run replays with it) and
// the last connections' inputs. test/integration/chaos.test.ts runs a short, seeded one.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { encodeParams } from '../src/protocols/fastcgi/params.js';
import { FCGI_KEEP_CONN, RecordType, Role, beginRequestBody, encodeRecord } from '../src/protocols/fastcgi/record.js';
import { encodeScgiHead } from '../src/protocols/scgi/netstring.js';
import { encodeProxyV1, encodeProxyV2 } from '../src/protocols/proxy/header.js';
import { encodeUwsgiHead } from '../src/protocols/uwsgi/packet.js';

/** The unix sockets of the warpipe under test. */
export interface ChaosTargets {
  http: string;
  fastcgi: string;
  scgi: string;
  uwsgi: string;
}

export interface ChaosOptions {
  connections: number;
  seed: number;
  /** connections at once */
  concurrency: number;
  /** a connection still open after this long is cut */
  connectionMs: number;
  /** the path every seed asks for (the app's hello; /echo takes the bodies) */
  paths: { hello: string; echo: string; websocket: string };
  /** only these seed kinds (default: all) */
  kinds?: readonly string[];
  /** --proxy-protocol on the HTTP listener: every HTTP seed starts with a PROXY header (v1 or v2) */
  proxy?: boolean;
}

export interface ChaosTally {
  connections: number;
  /** connections per seed kind */
  kinds: Record<string, number>;
  /** connections the gateway answered with at least one byte */
  answered: number;
  /** connections the gateway closed before the client's deadline */
  closedByServer: number;
  /** connections cut by the client's deadline */
  cut: number;
}

/** What one connection sent: for the report of a failure. */
export interface Sent {
  kind: string;
  bytes: Buffer;
}

// --- a small seeded random source (mulberry32): the same seed, the same run ---

export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** an integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }
}

// --- the seeds: one valid exchange of each kind ---

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A masked client WebSocket frame (RFC 6455 §5.2), payloads under 126 bytes. */
function wsFrame(opcode: number, payload: Buffer, mask: Buffer): Buffer {
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** An HTTP/2 frame (RFC 9113 §4.1). */
export function h2Frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** A header block of literal fields without indexing, new names (RFC 7541 §6.2.2), strings under 127 bytes. */
export function hpack(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) parts.push(Buffer.from([0, name.length]), latin1(name), Buffer.from([value.length]), latin1(value));
  return Buffer.concat(parts);
}

const h2Request = (method: string, path: string): Buffer =>
  hpack([
    [':method', method],
    [':scheme', 'http'],
    [':authority', 'chaos'],
    [':path', path],
  ]);

function fcgiRequest(id: number, params: [string, string][], body: Buffer): Buffer[] {
  return [
    encodeRecord(RecordType.BeginRequest, id, beginRequestBody(Role.Responder, FCGI_KEEP_CONN)),
    encodeRecord(RecordType.Params, id, encodeParams(params)),
    encodeRecord(RecordType.Params, id),
    ...(body.length > 0 ? [encodeRecord(RecordType.Stdin, id, body)] : []),
    encodeRecord(RecordType.Stdin, id),
  ];
}

function gatewayParams(method: string, path: string, body: Buffer): [string, string][] {
  return [
    ['CONTENT_LENGTH', String(body.length)],
    ['REQUEST_METHOD', method],
    ['REQUEST_URI', path],
    ['PATH_INFO', path],
    ['QUERY_STRING', ''],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['SERVER_NAME', 'chaos'],
    ['SERVER_PORT', '80'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['HTTP_HOST', 'chaos'],
  ];
}

export interface Seed {
  kind: string;
  target: keyof ChaosTargets;
  bytes: Buffer;
}

const CLIENT = { address: '203.0.113.7', port: 40000 };
const SERVER = { address: '192.0.2.1', port: 80 };

/** The PROXY header the HTTP seeds start with under --proxy: v1, or v2 with a NOOP TLV. */
export const proxyHeader = (v2: boolean): Buffer =>
  v2 ? encodeProxyV2(CLIENT, SERVER, Buffer.from([0x04, 0x00, 0x03, 1, 2, 3])) : encodeProxyV1(CLIENT, SERVER);

/** One valid exchange of each kind the gateway speaks (`proxy`: its HTTP ones behind a PROXY header). */
export function seeds(paths: ChaosOptions['paths'], proxy = false): Seed[] {
  const all = plainSeeds(paths);
  if (!proxy) return all;
  return all.map((s, i) => (s.target === 'http' ? { ...s, bytes: Buffer.concat([proxyHeader(i % 2 === 1), s.bytes]) } : s));
}

function plainSeeds(paths: ChaosOptions['paths']): Seed[] {
  const { hello, echo, websocket } = paths;
  const body = latin1('hello, chaos');
  const mask = Buffer.from([1, 2, 3, 4]);
  const get = `GET ${hello} HTTP/1.1\r\nHost: chaos\r\n\r\n`;
  const settings = h2Frame(4, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]));
  return [
    { kind: 'http-get', target: 'http', bytes: latin1(get) },
    { kind: 'http-pipelined', target: 'http', bytes: latin1(`${get}${get}HEAD ${hello} HTTP/1.1\r\nHost: chaos\r\n\r\n`) },
    {
      kind: 'http-post',
      target: 'http',
      bytes: latin1(`POST ${echo} HTTP/1.1\r\nHost: chaos\r\nContent-Length: ${body.length}\r\n\r\n${body.toString('latin1')}`),
    },
    {
      kind: 'http-chunked',
      target: 'http',
      bytes: latin1(
        `POST ${echo} HTTP/1.1\r\nHost: chaos\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, chaos\r\n0\r\nX-Trailer: 1\r\n\r\n`,
      ),
    },
    {
      kind: 'http-expect',
      target: 'http',
      bytes: latin1(
        `POST ${echo} HTTP/1.1\r\nHost: chaos\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n${body.toString('latin1')}`,
      ),
    },
    {
      kind: 'websocket',
      target: 'http',
      bytes: Buffer.concat([
        latin1(
          `GET ${websocket} HTTP/1.1\r\nHost: chaos\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
            'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
        ),
        wsFrame(1, latin1('hi'), mask),
        wsFrame(9, latin1('ping'), mask),
        wsFrame(2, Buffer.from([0, 1, 2, 255]), mask),
        wsFrame(8, Buffer.from([0x03, 0xe8]), mask),
      ]),
    },
    {
      kind: 'h2c',
      target: 'http',
      bytes: Buffer.concat([
        latin1('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        settings,
        h2Frame(1, 0x5, 1, h2Request('GET', hello)), // END_STREAM | END_HEADERS
        h2Frame(1, 0x4, 3, h2Request('POST', echo)),
        h2Frame(0, 0x1, 3, body),
        h2Frame(1, 0x4, 5, h2Request('POST', echo)),
        h2Frame(3, 0, 5, Buffer.from([0, 0, 0, 8])), // RST_STREAM CANCEL
        h2Frame(6, 0, 0, Buffer.alloc(8)), // PING
        h2Frame(8, 0, 0, Buffer.from([0, 1, 0, 0])), // WINDOW_UPDATE
        h2Frame(7, 0, 0, Buffer.alloc(8)), // GOAWAY NO_ERROR
      ]),
    },
    {
      kind: 'fastcgi',
      target: 'fastcgi',
      bytes: Buffer.concat([
        ...fcgiRequest(1, gatewayParams('GET', hello, Buffer.alloc(0)), Buffer.alloc(0)),
        ...fcgiRequest(2, gatewayParams('POST', echo, body), body),
        encodeRecord(RecordType.GetValues, 0, encodeParams([['FCGI_MPXS_CONNS', '']])),
        encodeRecord(RecordType.AbortRequest, 2),
      ]),
    },
    { kind: 'scgi', target: 'scgi', bytes: Buffer.concat([encodeScgiHead([...gatewayParams('POST', echo, body), ['SCGI', '1']]), body]) },
    { kind: 'uwsgi', target: 'uwsgi', bytes: Buffer.concat([encodeUwsgiHead(gatewayParams('POST', echo, body)), body]) },
  ];
}

// --- mutations ---

const TOKENS = [
  '\r\n',
  '\n',
  '\0',
  '\xff',
  ':',
  ' ',
  '\t',
  'Transfer-Encoding: chunked\r\n',
  'Content-Length: 99999\r\n',
  'Content-Length: -1\r\n',
  'Connection: close\r\n',
  'Upgrade: websocket\r\n',
  '0\r\n\r\n',
  'ffffffffffffffff\r\n',
  '%00',
  '/../',
].map(latin1);

/** `data` with 0 to 4 random edits (0: sent as it is, in random pieces). */
export function mutate(rng: Random, data: Buffer): Buffer {
  let b = data;
  const edits = rng.chance(0.15) ? 0 : rng.int(1, 4);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = rng.int(0, b.length - 1);
    const span = Math.min(rng.int(1, 16), b.length - at);
    switch (rng.int(0, 7)) {
      case 0: // flip a bit
        b = Buffer.from(b);
        b[at] = b[at]! ^ (1 << rng.int(0, 7));
        break;
      case 1: // a random byte
        b = Buffer.from(b);
        b[at] = rng.int(0, 255);
        break;
      case 2: // random bytes inserted
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 16)), b.subarray(at)]);
        break;
      case 3: // a range deleted
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + span)]);
        break;
      case 4: // a range repeated
        b = Buffer.concat([b.subarray(0, at + span), b.subarray(at, at + span), b.subarray(at + span)]);
        break;
      case 5: // cut short
        b = b.subarray(0, at);
        break;
      case 6: {
        // a number made another: 0, huge, negative
        const text = b.toString('latin1');
        const digits = /\d+/g;
        const found = [...text.matchAll(digits)];
        if (found.length === 0) break;
        const m = rng.pick(found);
        const by = rng.pick(['0', '4294967296', '-1', '99999999999999999999', '00001', ' 1']);
        b = Buffer.concat([b.subarray(0, m.index), latin1(by), b.subarray(m.index + m[0].length)]);
        break;
      }
      default: // a token that means something to some parser
        b = Buffer.concat([b.subarray(0, at), rng.pick(TOKENS), b.subarray(at)]);
    }
  }
  return b;
}

// --- one connection (exported for replaying one input) ---

type Outcome = 'closed' | 'cut';

/** One connection to `path` sending `bytes`, its choices (pieces, reading, ending) from `rng`. */
export async function connection(
  path: string,
  bytes: Buffer,
  rng: Random,
  connectionMs: number,
): Promise<{ outcome: Outcome; got: number }> {
  const socket = net.connect(path);
  socket.on('error', () => {});
  let got = 0;
  const readIt = rng.chance(0.75);
  socket.on('data', (d: Buffer) => {
    got += d.length;
  });
  if (!readIt) socket.pause(); // never read: what the gateway sends piles up in the socket
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let open = true;
  void closed.then(() => (open = false));
  const timer = sleep(connectionMs).then(() => 'cut' as const);
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  // the bytes in 1 to 8 pieces, a turn of the event loop (now and then a few milliseconds) between them
  const pieces = rng.int(1, Math.min(8, Math.max(1, bytes.length)));
  const cuts = [...new Set(Array.from({ length: pieces - 1 }, () => rng.int(1, Math.max(1, bytes.length - 1))))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    if (!open) break;
    socket.write(bytes.subarray(from, to));
    from = to;
    await (rng.chance(0.1) ? sleep(rng.int(1, 5)) : new Promise((r) => setImmediate(r)));
  }
  const then = rng.int(0, 9);
  if (open && then < 4) socket.end();
  else if (open && then < 6) socket.destroy();
  // else: left open, to its answer or the deadline
  const outcome = await Promise.race([closed.then(() => 'closed' as const), timer]);
  socket.destroy();
  return { outcome, got };
}

/** Run the chaos against `targets`; `alive` is asked after every connection (false: the run stops at once). */
export async function chaos(targets: ChaosTargets, options: ChaosOptions, alive: () => boolean, last: Sent[] = []): Promise<ChaosTally> {
  const all = seeds(options.paths, options.proxy).filter((s) => options.kinds === undefined || options.kinds.includes(s.kind));
  if (all.length === 0) throw new Error(`no seed of the kinds ${options.kinds?.join(', ')}`);
  const tally: ChaosTally = { connections: 0, kinds: {}, answered: 0, closedByServer: 0, cut: 0 };
  const rng = new Random(options.seed);
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < options.connections && alive()) {
      next++;
      const seed = rng.pick(all);
      const bytes = mutate(rng, seed.bytes);
      // each connection its own stream of choices, so concurrency does not change what is sent
      const own = new Random(rng.int(0, 2 ** 32 - 1));
      last.push({ kind: seed.kind, bytes });
      if (last.length > 32) last.shift();
      tally.kinds[seed.kind] = (tally.kinds[seed.kind] ?? 0) + 1;
      const { outcome, got } = await connection(targets[seed.target], bytes, own, options.connectionMs);
      tally.connections++;
      if (got > 0) tally.answered++;
      if (outcome === 'closed') tally.closedByServer++;
      else tally.cut++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, runner));
  return tally;
}

// --- after the run: every listener still answers ---

/** Send `bytes` on a new connection to `path`; the answer so far once it holds `expect`, or what came when it closed. */
export async function ask(path: string, bytes: Buffer, expect: string, timeoutMs = 20_000): Promise<string> {
  const socket = net.connect(path);
  let text = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${JSON.stringify(expect)} within ${timeoutMs} ms: ${JSON.stringify(text)}`)),
        timeoutMs,
      );
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes(expect)) {
          clearTimeout(timer);
          resolve(text);
        }
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
      socket.write(bytes);
    });
  } finally {
    socket.destroy();
  }
}

/** One valid request on each listener: the problems (none: every one answered with `expect`). */
export async function stillAnswers(targets: ChaosTargets, hello: string, expect: string, proxy = false): Promise<string[]> {
  const params = gatewayParams('GET', hello, Buffer.alloc(0));
  const get = latin1(`GET ${hello} HTTP/1.1\r\nHost: chaos\r\nConnection: close\r\n\r\n`);
  const asks: [string, string, Buffer][] = [
    ['http', targets.http, proxy ? Buffer.concat([proxyHeader(false), get]) : get],
    ['fastcgi', targets.fastcgi, Buffer.concat(fcgiRequest(1, params, Buffer.alloc(0)))],
    ['scgi', targets.scgi, encodeScgiHead([...params, ['SCGI', '1']])],
    ['uwsgi', targets.uwsgi, encodeUwsgiHead(params)],
  ];
  const problems: string[] = [];
  for (const [name, path, bytes] of asks) {
    try {
      const answer = await ask(path, bytes, expect);
      if (!answer.includes(expect)) problems.push(`${name}: answered ${JSON.stringify(answer.slice(0, 300))}`);
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Lines of a gateway log that say it went wrong itself: a bug, or an error nothing caught. */
export function troubleIn(log: string): string[] {
  return log.split('\n').filter((line) => /bug while|Uncaught|Unhandled|node:internal|^\s+at /.test(line));
}

/**
 * The unix sockets in `dir` for every listener, and the warpipe arguments that serve them with short timeouts
 * (a connection the chaos left half-done is reclaimed soon, the HTTP/2 liveness PING too).
 */
export function chaosListeners(dir: string, proxy = false): { targets: ChaosTargets; args: string[] } {
  const targets: ChaosTargets = {
    http: join(dir, 'http.sock'),
    fastcgi: join(dir, 'fastcgi.sock'),
    scgi: join(dir, 'scgi.sock'),
    uwsgi: join(dir, 'uwsgi.sock'),
  };
  const args = Object.entries(targets).flatMap(([name, path]) => [`--${name}`, `unix:${path}`]);
  args.push('--header-timeout', '2', '--body-timeout', '2', '--keepalive-timeout', '2');
  if (proxy) args.push('--proxy-protocol', '--forwarded-allow-ips', '127.0.0.1'); // (a unix socket's peer is trusted)
  return { targets, args };
}

// --- the command ---

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function main(argv: string[]): Promise<number> {
  const flag = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value < 0) {
      process.stderr.write(`chaos: ${name} takes a whole number, not ${JSON.stringify(argv[i + 1])}\n`);
      process.exit(2);
    }
    return value;
  };
  const known = new Set(['--connections', '--seed', '--concurrency', '--connection-ms', '--wsgi', '--kinds', '--proxy']);
  for (const a of argv) {
    if (a.startsWith('--') && !known.has(a)) {
      const usage = '--connections N, --seed S, --concurrency C, --connection-ms MS, --kinds K,K, --wsgi, --proxy';
      process.stderr.write(`chaos: unknown option ${a} (${usage})\n`);
      return 2;
    }
  }
  const wsgi = argv.includes('--wsgi');
  const proxy = argv.includes('--proxy');
  const options: ChaosOptions = {
    connections: flag('--connections', 5000),
    seed: flag('--seed', Math.floor(Math.random() * 2 ** 31)),
    concurrency: flag('--concurrency', 16),
    connectionMs: flag('--connection-ms', 1000),
    paths: wsgi ? { hello: '/', echo: '/', websocket: '/' } : { hello: '/hello', echo: '/echo', websocket: '/ws/echo' },
    proxy,
  };
  const kinds = argv.indexOf('--kinds');
  if (kinds >= 0) options.kinds = (argv[kinds + 1] ?? '').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'warpipe-chaos-'));
  const { targets, args: listeners } = chaosListeners(dir, proxy);
  const [cwd, app, expect] = wsgi
    ? [join(ROOT, 'test/fixtures/apps'), 'hello:application', 'Hello']
    : [join(ROOT, 'test/fixtures/asgi'), 'probe:app', 'hello from asgi'];
  const args = [join(ROOT, 'dist/src/cli.js'), app, '--workers', '2', ...listeners];
  const proc = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const closed = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
  try {
    for (let i = 0; i < 600 && !/workers? ready/.test(log); i++) {
      if (!alive()) throw new Error(`warpipe exited at boot:\n${log}`);
      await sleep(50);
    }
    process.stderr.write(`chaos: seed ${options.seed}, ${options.connections} connections, ${options.concurrency} at once, ${app}\n`);
    const last: Sent[] = [];
    const started = Date.now();
    const tally = await chaos(targets, options, alive, last);
    const problems = alive() ? await stillAnswers(targets, options.paths.hello, expect, proxy) : ['the gateway exited'];
    const trouble = troubleIn(log);
    process.stdout.write(`${JSON.stringify({ ...tally, seconds: (Date.now() - started) / 1000 })}\n`);
    if (problems.length === 0 && trouble.length === 0) return 0;
    process.stderr.write(`chaos FAILED with seed ${options.seed}:\n${[...problems, ...trouble].join('\n')}\n`);
    process.stderr.write(`the last connections' inputs (latin1):\n`);
    for (const s of last) process.stderr.write(`${s.kind}: ${JSON.stringify(s.bytes.toString('latin1'))}\n`);
    process.stderr.write(`the gateway's log ends:\n${log.slice(-4000)}\n`);
    return 1;
  } finally {
    // with every chaos connection gone, the drain has nothing to wait for but what the short timeouts reclaim:
    // one that runs into --graceful-timeout (30 s) means the gateway kept a connection its client had left
    const stopping = Date.now();
    if (alive()) proc.kill('SIGTERM');
    await closed;
    const took = Date.now() - stopping;
    process.stderr.write(`chaos: warpipe stopped ${proc.exitCode ?? proc.signalCode} after SIGTERM in ${took} ms\n`);
    if (took > 15_000 || proc.exitCode !== 0) {
      process.stderr.write(`chaos FAILED with seed ${options.seed}: the stop took ${took} ms or did not exit 0\n`);
      process.exitCode = 1;
    }
    if (process.env.CHAOS_LOG) process.stderr.write(log);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code || (process.exitCode as number | undefined) || 0),
    (err: unknown) => {
      process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
