// Hostile clients for the soak (bench/soak.ts, issue 11): they run beside the legitimate traffic
// for the whole soak, each with a fixed number of connections (slots), a pause between attempts
// and a cap on how long one attempt may last, and they only ever connect to the warpipe the soak
// started (127.0.0.1:PORT and the unix sockets in the soak's private directory). None of their
// requests counts as the soak's traffic; each attacker counts its attempts and how they ended.
//
//   chunked-drip      HTTP uploads in 1-byte chunks, the last chunk withheld
//   bad-length        SCGI and uwsgi heads with CONTENT_LENGTH=-1
//   half-body         SCGI and uwsgi: half the declared body, then the client shuts its side
//   fcgi-flood        FastCGI: 8-byte records of unknown type 27 (id 0), replies never read
//   fcgi-tiny-stdin   FastCGI: 8 requests multiplexed on one connection, bodies in 1-byte STDIN records
//   pipelined-unread  HTTP: 200 pipelined GETs of an 8 MiB response, never read
//   dripped-head      HTTP: a request head sent one byte per write
//   unread-upload     SCGI, uwsgi, FastCGI in turn: a 256 MiB upload to a route that reads none of it

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import { encodeParams } from '../src/protocols/fastcgi/params.js';
import { FCGI_KEEP_CONN, RecordType, Role, beginRequestBody, encodeRecord } from '../src/protocols/fastcgi/record.js';
import { encodeScgiHead } from '../src/protocols/scgi/netstring.js';
import { encodeUwsgiHead } from '../src/protocols/uwsgi/packet.js';

export interface Targets {
  /** HTTP on 127.0.0.1 */
  port: number;
  scgi: string;
  uwsgi: string;
  fastcgi: string;
}

export interface AttackerReport {
  name: string;
  what: string;
  slots: number;
  attempts: number;
  /** how the attempts ended, by kind */
  outcomes: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
  /** per attacker: a few numbers worth keeping (largest upload before an answer, ...) */
  notes: Record<string, number>;
}

type Where = { port: number } | { path: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One attacker: `slots` connections at a time, each running `attempt` over and over until stopped. */
export class Attacker {
  attempts = 0;
  bytesSent = 0;
  bytesReceived = 0;
  stopped = false;
  readonly outcomes = new Map<string, number>();
  readonly notes = new Map<string, number>();
  readonly conns = new Set<Conn>();
  private readonly sleepers = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly what: string,
    readonly slots: number,
    /** least time from the start of one attempt to the start of the next, per slot (ms) */
    private readonly gapMs: number,
    private readonly attempt: (a: Attacker, n: number) => Promise<string>,
  ) {}

  /** Attack until `until` (Date.now() ms); resolves once every attempt has ended. */
  async run(until: number): Promise<void> {
    const timer = setTimeout(() => this.stop(), Math.max(0, until - Date.now()));
    let n = 0;
    await Promise.all(
      Array.from({ length: this.slots }, async () => {
        while (!this.stopped) {
          const t0 = Date.now();
          this.attempts++;
          let outcome: string;
          try {
            outcome = await this.attempt(this, n++);
          } catch (err) {
            outcome = `attacker error: ${(err as Error).message}`;
          }
          this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
          await this.sleep(Math.max(50, this.gapMs - (Date.now() - t0)));
        }
      }),
    );
    clearTimeout(timer);
  }

  /** The end of the soak: every connection still open is closed, as "still open at end". */
  stop(): void {
    this.stopped = true;
    for (const wake of this.sleepers) wake();
    for (const c of this.conns) c.close('stopped');
  }

  /** Sleep, cut short by stop(). */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  /** Keep the largest `value` seen under `key`. */
  note(key: string, value: number): void {
    this.notes.set(key, Math.max(this.notes.get(key) ?? 0, Math.round(value * 10) / 10));
  }

  report(): AttackerReport {
    const outcomes = Object.fromEntries([...this.outcomes].sort((x, y) => y[1] - x[1]));
    return {
      name: this.name,
      what: this.what,
      slots: this.slots,
      attempts: this.attempts,
      outcomes,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      notes: Object.fromEntries(this.notes),
    };
  }
}

/** How a connection ended: the server closed (or reset) it, it was refused, we closed it, or the soak ended. */
type Ending = 'server' | 'refused' | 'us' | 'stopped';

/** One attacking connection: what came back (the first 64 KiB kept), and how it ended. */
class Conn {
  readonly sock: net.Socket;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  received = 0;
  sent = 0;
  ended: Ending | null = null;
  readonly openedAt = Date.now();
  private readonly waiters = new Set<() => void>();
  private readonly connected: Promise<boolean>;

  constructor(
    readonly owner: Attacker,
    where: Where,
    read = true,
  ) {
    this.sock = 'path' in where ? net.connect(where.path) : net.connect(where.port, '127.0.0.1');
    if (!read) this.sock.pause();
    owner.conns.add(this);
    this.connected = new Promise((resolve) => {
      this.sock.once('connect', () => resolve(true));
      this.sock.once('close', () => resolve(false));
    });
    this.sock.on('data', (d: Buffer) => {
      this.received += d.length;
      owner.bytesReceived += d.length;
      if (this.keptBytes < 65536) {
        this.kept.push(d);
        this.keptBytes += d.length;
      }
      this.signal();
    });
    this.sock.on('end', () => this.finish('server'));
    this.sock.on('error', (err: NodeJS.ErrnoException) => {
      // refused, or the server closed (EPIPE, ECONNRESET) while we wrote
      this.finish(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'refused' : 'server');
    });
    this.sock.on('close', () => {
      this.finish('server');
      owner.conns.delete(this);
    });
    if (this.owner.stopped) this.close('stopped');
  }

  private finish(how: Ending): void {
    this.ended ??= how;
    this.signal();
  }

  private signal(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Whether it connected. */
  open(): Promise<boolean> {
    return this.connected;
  }

  /** Close it ourselves (`stopped`: the soak ended). */
  close(how: 'us' | 'stopped' = 'us'): void {
    this.ended ??= how;
    this.sock.destroy();
    this.signal();
  }

  /** What came back so far (the first 64 KiB). */
  get data(): Buffer {
    return Buffer.concat(this.kept);
  }

  /** Write, then wait while the socket's buffer is full; false once the connection has ended. */
  async send(buf: Uint8Array): Promise<boolean> {
    if (this.ended) return false;
    this.sent += buf.length;
    this.owner.bytesSent += buf.length;
    if (!this.sock.write(buf)) {
      await this.until(
        () => false,
        Infinity,
        () => this.sock.writableNeedDrain === false,
      );
    }
    return this.ended === null;
  }

  /** Wait until `done()`, the end of the connection, or `ms`; `drained` is checked on 'drain' too. */
  until(done: () => boolean, ms: number, drained?: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.ended !== null || done() || drained?.()) finish();
      };
      const onDrain = (): void => check();
      const finish = (): void => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(check);
        this.sock.off('drain', onDrain);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(finish, ms) : null;
      this.waiters.add(check);
      if (drained) this.sock.on('drain', onDrain);
      check();
    });
  }

  /** How it ended, for the report (`open after N s` when we gave up waiting and closed it). */
  ending(): string {
    switch (this.ended) {
      case 'server':
        return 'closed by server';
      case 'refused':
        return 'refused';
      case 'stopped':
        return 'still open at end';
      case 'us':
        return 'closed by us';
      default:
        return 'open';
    }
  }

  /** Wait up to `ms` for the server to close; then close it ourselves. Returns how it ended. */
  async settle(ms: number): Promise<string> {
    await this.until(() => false, ms);
    if (this.ended !== null) return this.ending();
    this.close('us');
    return `open after ${Math.round(ms / 1000)} s, closed by us`;
  }
}

/** The status of an HTTP (`HTTP/1.1 NNN`) or CGI-style (`Status: NNN`) response head, or null. */
function statusOf(head: string): number | null {
  const m = /^(?:HTTP\/1\.[01] |Status: )(\d{3})/.exec(head);
  return m ? Number(m[1]) : null;
}

function answer(code: number | null): string {
  return code === null ? 'no answer' : `${Math.floor(code / 100)}xx (${code})`;
}

// --- FastCGI replies ---

interface Rec {
  type: number;
  id: number;
  content: Buffer;
}

function records(buf: Buffer): Rec[] {
  const out: Rec[] = [];
  for (let off = 0; off + 8 <= buf.length; ) {
    const len = buf.readUInt16BE(off + 4);
    const end = off + 8 + len + buf[off + 6]!;
    if (end > buf.length) break;
    out.push({ type: buf[off + 1]!, id: buf.readUInt16BE(off + 2), content: buf.subarray(off + 8, off + 8 + len) });
    off = end;
  }
  return out;
}

/** Per request id: its reply status (from its STDOUT) and its END_REQUEST protocol status, once they came. */
function fcgiReplies(buf: Buffer): Map<number, { status: number | null; protocolStatus: number | null }> {
  const out = new Map<number, { status: number | null; protocolStatus: number | null; head: string }>();
  for (const r of records(buf)) {
    const e = out.get(r.id) ?? { status: null, protocolStatus: null, head: '' };
    if (r.type === RecordType.Stdout && e.head.length < 64) {
      e.head += r.content.toString('latin1', 0, 64);
      e.status = statusOf(e.head) ?? (e.head.length >= 64 ? 200 : null); // a CGI reply without Status: is 200
    } else if (r.type === RecordType.EndRequest && r.content.length >= 5) {
      e.protocolStatus = r.content[4]!;
    }
    out.set(r.id, e);
  }
  return out;
}

const PROTOCOL_STATUS = ['complete', 'cannot multiplex', 'overloaded', 'unknown role'];

// --- the attacks ---

const gatewayParams = (path: string, query: string, length: string, method = 'POST'): [string, string][] => [
  ['CONTENT_LENGTH', length],
  ['SCGI', '1'],
  ['REQUEST_METHOD', method],
  ['PATH_INFO', path],
  ['QUERY_STRING', query],
  ['SERVER_NAME', 'soak'],
  ['SERVER_PORT', '80'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REMOTE_ADDR', '127.0.0.1'],
];

function fcgiHead(id: number, flags: number, params: [string, string][]): Buffer {
  return Buffer.concat([
    encodeRecord(RecordType.BeginRequest, id, beginRequestBody(Role.Responder, flags)),
    encodeRecord(RecordType.Params, id, encodeParams(params)),
    encodeRecord(RecordType.Params, id),
  ]);
}

/** 1. HTTP POST, chunked: 16 KiB of body in 1-byte chunks, then nothing (the last chunk withheld). */
async function chunkedDrip(a: Attacker, port: number): Promise<string> {
  const c = new Conn(a, { port });
  if (!(await c.open())) return c.ending();
  await c.send(Buffer.from('POST /echo HTTP/1.1\r\nHost: soak\r\nUser-Agent: attacker-chunked-drip\r\nTransfer-Encoding: chunked\r\n\r\n'));
  const batch = Buffer.from('1\r\nx\r\n'.repeat(64));
  for (let i = 0; i < 256 && (await c.send(batch)); i++) await tick();
  // the terminating chunk is withheld: wait for the server to give up on it (--body-timeout)
  await c.until(() => false, 120_000);
  const code = statusOf(c.data.toString('latin1', 0, 64));
  const end = c.ended === null ? (c.close('us'), 'open after 120 s, closed by us') : c.ending();
  if (c.ended === 'server') a.note('longest held (s)', (Date.now() - c.openedAt) / 1000);
  return `${answer(code)}, ${end}`;
}

/** 2a. SCGI and uwsgi heads with CONTENT_LENGTH=-1. */
async function badLength(a: Attacker, n: number, t: Targets): Promise<string> {
  const proto = n % 2 === 0 ? 'scgi' : 'uwsgi';
  const params = gatewayParams('/echo', 'attack', '-1');
  const c = new Conn(a, { path: proto === 'scgi' ? t.scgi : t.uwsgi });
  if (!(await c.open())) return `${proto}: ${c.ending()}`;
  await c.send(proto === 'scgi' ? encodeScgiHead(params) : encodeUwsgiHead(params));
  const end = await c.settle(15_000);
  return `${proto}: ${answer(statusOf(c.data.toString('latin1', 0, 64)))}, ${end}`;
}

/** 2b. SCGI and uwsgi: a 64 KiB body declared, 32 KiB of it sent, then the client shuts down its side. */
async function halfBody(a: Attacker, n: number, t: Targets): Promise<string> {
  const proto = n % 2 === 0 ? 'scgi' : 'uwsgi';
  const params = gatewayParams('/echo', 'attack', '65536');
  const c = new Conn(a, { path: proto === 'scgi' ? t.scgi : t.uwsgi });
  if (!(await c.open())) return `${proto}: ${c.ending()}`;
  await c.send(Buffer.concat([proto === 'scgi' ? encodeScgiHead(params) : encodeUwsgiHead(params), Buffer.alloc(32768, 'h')]));
  c.sock.end();
  const end = await c.settle(15_000);
  return `${proto}: ${answer(statusOf(c.data.toString('latin1', 0, 64)))}, ${end}`;
}

/** 3a. FastCGI: 8-byte records of unknown type 27 (request id 0), as fast as the server takes them; replies never read. */
async function fcgiFlood(a: Attacker, path: string): Promise<string> {
  const c = new Conn(a, { path }, false);
  if (!(await c.open())) return c.ending();
  const batch = Buffer.concat(Array.from({ length: 8192 }, () => encodeRecord(27, 0))); // 64 KiB
  const t0 = Date.now();
  while (Date.now() - t0 < 180_000 && (await c.send(batch)));
  a.note('most records sent on one connection', c.sent / 8);
  if (c.ended === null) {
    c.close('us');
    return 'open after 180 s, closed by us';
  }
  if (c.ended === 'server') a.note('longest held (s)', (Date.now() - c.openedAt) / 1000);
  return c.ending();
}

/** 3b. FastCGI: 8 requests multiplexed on one kept connection, each a 4 KiB body to /echo in 1-byte STDIN records. */
async function fcgiTinyStdin(a: Attacker, path: string): Promise<string> {
  const c = new Conn(a, { path });
  if (!(await c.open())) return c.ending();
  const ids = [1, 2, 3, 4, 5, 6, 7, 8];
  const size = 4096;
  await c.send(Buffer.concat(ids.map((id) => fcgiHead(id, FCGI_KEEP_CONN, gatewayParams('/echo', String(id), String(size))))));
  const byte = Buffer.of(0x74);
  const round = Buffer.concat(ids.map((id) => encodeRecord(RecordType.Stdin, id, byte)));
  const rounds = Buffer.concat(Array.from({ length: 16 }, () => round)); // 16 bytes of each body per write
  for (let i = 0; i < size; i += 16) {
    if (!(await c.send(rounds))) break;
    if (i % 256 === 0) await tick();
  }
  await c.send(Buffer.concat(ids.map((id) => encodeRecord(RecordType.Stdin, id))));
  await c.until(() => [...fcgiReplies(c.data).values()].filter((r) => r.protocolStatus !== null).length >= ids.length, 60_000);
  const replies = fcgiReplies(c.data);
  const kinds = new Map<string, number>();
  for (const id of ids) {
    const r = replies.get(id);
    const kind =
      r?.protocolStatus == null
        ? 'no reply'
        : r.protocolStatus !== 0
          ? (PROTOCOL_STATUS[r.protocolStatus] ?? `protocol status ${r.protocolStatus}`)
          : answer(r.status);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const end = c.ended === null ? (c.close('us'), 'kept open, closed by us') : c.ending();
  return `${[...kinds].map(([k, v]) => `${v} ${k}`).join(' + ')}, ${end}`;
}

/**
 * Whether the server has closed a TCP connection that we never read. We cannot see it on our
 * side: its FIN waits behind the response bytes we leave unread. So look at the server's end in
 * /proc/net/tcp: closed (FIN_WAIT1/2, CLOSING, LAST_ACK, TIME_WAIT, CLOSE) or gone (reset); or ours
 * in CLOSE_WAIT.
 */
function peerClosed(sock: net.Socket): boolean {
  const hex = (port: number | undefined): string => `0100007F:${(port ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  const ours = hex(sock.localPort);
  const theirs = hex(sock.remotePort);
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'latin1');
  } catch {
    return false;
  }
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === ours && f[2] === theirs && f[3] === '08') return true; // CLOSE_WAIT: their FIN came
    if (f[1] === theirs && f[2] === ours) return f[3] !== '01'; // theirs, no longer ESTABLISHED
  }
  return true; // their end is gone: reset
}

/** 4. HTTP: 200 pipelined GETs of an 8 MiB response on one connection that never reads. */
async function pipelinedUnread(a: Attacker, port: number): Promise<string> {
  const c = new Conn(a, { port }, false);
  if (!(await c.open())) return c.ending();
  await c.send(Buffer.from('GET /big?8 HTTP/1.1\r\nHost: soak\r\nUser-Agent: attacker-pipelined-unread\r\n\r\n'.repeat(200)));
  const t0 = Date.now();
  while (!a.stopped && c.ended === null && Date.now() - t0 < 300_000) {
    await a.sleep(1000);
    if (peerClosed(c.sock)) break;
  }
  if (a.stopped || c.ended !== null) return c.ended === null ? (c.close('stopped'), c.ending()) : c.ending();
  if (Date.now() - t0 >= 300_000) {
    c.close('us');
    return 'open after 300 s, closed by us';
  }
  // closed by the server: how much had it sent? (what the kernel still holds for us)
  a.note('longest held (s)', (Date.now() - c.openedAt) / 1000);
  c.sock.resume();
  await c.until(() => false, 10_000);
  a.note('most MiB received on one connection', c.received / 1048576);
  c.close('us');
  return 'closed by server';
}

/** 5. HTTP: a 3 KiB request head, one byte per write, 1 ms apart (as fast as timers go). */
async function drippedHead(a: Attacker, port: number): Promise<string> {
  const c = new Conn(a, { port });
  if (!(await c.open())) return c.ending();
  c.sock.setNoDelay(true);
  const head = Buffer.from(
    `GET /sized?2 HTTP/1.1\r\nHost: soak\r\nUser-Agent: attacker-dripped-head\r\nX-Pad: ${'p'.repeat(3000)}\r\n\r\n`,
  );
  for (let i = 0; i < head.length && (await c.send(head.subarray(i, i + 1))); i++) await sleep(1);
  await c.until(() => c.data.includes('\r\n\r\nss'), 30_000);
  const code = statusOf(c.data.toString('latin1', 0, 64));
  a.note('longest attempt (s)', (Date.now() - c.openedAt) / 1000);
  const end = c.ended === null ? (c.close('us'), code === 200 ? 'kept open, closed by us' : 'open after 30 s, closed by us') : c.ending();
  return `${answer(code)}, ${end}`;
}

/** 6. SCGI, uwsgi and FastCGI in turn: a 256 MiB upload to /sleep?2 (it reads none of it), with backpressure. */
async function unreadUpload(a: Attacker, n: number, t: Targets): Promise<string> {
  const proto = (['scgi', 'uwsgi', 'fastcgi'] as const)[n % 3]!;
  const size = 256 << 20;
  const params = gatewayParams('/sleep', '2', String(size));
  const c = new Conn(a, { path: t[proto] });
  if (!(await c.open())) return `${proto}: ${c.ending()}`;
  const piece = Buffer.alloc(32768, 'u');
  const framed = proto === 'fastcgi' ? encodeRecord(RecordType.Stdin, 1, piece) : piece;
  await c.send(proto === 'scgi' ? encodeScgiHead(params) : proto === 'uwsgi' ? encodeUwsgiHead(params) : fcgiHead(1, 0, params));
  const answered = (): boolean => (proto === 'fastcgi' ? (fcgiReplies(c.data).get(1)?.status ?? null) !== null : c.received > 0);
  let body = 0;
  const t0 = Date.now();
  while (body < size && !answered() && Date.now() - t0 < 60_000 && (await c.send(framed))) body += piece.length;
  await c.until(answered, 30_000);
  a.note('most MiB sent before the answer', body / 1048576);
  const code = proto === 'fastcgi' ? (fcgiReplies(c.data).get(1)?.status ?? null) : statusOf(c.data.toString('latin1', 0, 64));
  const end = await c.settle(5_000);
  return `${proto}: ${answer(code)}, ${end}`;
}

/** Every attacker, against the warpipe at `t`. */
export function attackers(t: Targets): Attacker[] {
  return [
    new Attacker('chunked-drip', 'HTTP POST /echo, chunked: 16 KiB in 1-byte chunks, the last chunk withheld', 3, 1000, (a) =>
      chunkedDrip(a, t.port),
    ),
    new Attacker('bad-length', 'SCGI and uwsgi heads with CONTENT_LENGTH=-1', 1, 200, (a, n) => badLength(a, n, t)),
    new Attacker('half-body', 'SCGI and uwsgi: 32 KiB of a 64 KiB body, then the client shuts down its side', 1, 200, (a, n) =>
      halfBody(a, n, t),
    ),
    new Attacker('fcgi-flood', 'FastCGI: 8-byte records of unknown type 27 (id 0), replies never read', 1, 1000, (a) =>
      fcgiFlood(a, t.fastcgi),
    ),
    new Attacker(
      'fcgi-tiny-stdin',
      'FastCGI: 8 requests multiplexed on a kept connection, 4 KiB bodies in 1-byte STDIN records',
      1,
      200,
      (a) => fcgiTinyStdin(a, t.fastcgi),
    ),
    new Attacker('pipelined-unread', 'HTTP: 200 pipelined GET /big?8 (8 MiB each) on one connection, never read', 1, 1000, (a) =>
      pipelinedUnread(a, t.port),
    ),
    new Attacker('dripped-head', 'HTTP: a 3 KiB request head, one byte per write, 1 ms apart', 2, 200, (a) => drippedHead(a, t.port)),
    new Attacker(
      'unread-upload',
      'SCGI, uwsgi, FastCGI in turn: 256 MiB to /sleep?2, which reads none of it, with backpressure',
      1,
      500,
      (a, n) => unreadUpload(a, n, t),
    ),
  ];
}

/** One line per attacker for the soak's report. */
export function describeReport(r: AttackerReport): string {
  const outcomes = Object.entries(r.outcomes)
    .map(([k, v]) => `${v} x ${k}`)
    .join('; ');
  const notes = Object.entries(r.notes)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const mib = (n: number): string => (n / 1048576).toFixed(1);
  return (
    `  ${r.name} (${r.slots} conn${r.slots > 1 ? 's' : ''}): ${r.attempts} attempts: ${outcomes || 'none'}` +
    ` [sent ${mib(r.bytesSent)} MiB, received ${mib(r.bytesReceived)} MiB${notes ? `; ${notes}` : ''}]`
  );
}
