import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger, PIPE_BUF, QUEUE_MAX, levels, linePieces, prefixLines, stderrSink } from './log.js';

test('a log that cannot be written loses lines, not the server, and says so once it can', () => {
  const out: string[] = [];
  let full = true;
  const log = new Logger(
    20,
    stderrSink((text) => {
      if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      out.push(text);
    }),
  );
  log.info('one');
  log.error('two');
  log.info('three');
  assert.deepEqual(out, []);
  full = false;
  log.info('four');
  log.info('five');
  const text = out.join('');
  assert.match(
    text,
    new RegExp(
      String.raw`^\[[-0-9: +]+\] \[\d+\] \[WARNING\] 3 log lines were lost: ENOSPC: no space left on device, write\n` +
        String.raw`\[[-0-9: +]+\] \[\d+\] \[INFO\] four\n`,
    ),
  );
  assert.equal(text.split('lost').length, 2, 'said once');
  assert.match(text, /\[INFO\] five\n$/);
});

test("issue 12: lines the workers print get the log's prefix, each of them, empty ones too", () => {
  const text = prefixLines('one\n\ntwo\n', 20, 'worker');
  assert.match(
    text,
    new RegExp(
      String.raw`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000\] \[worker\] \[INFO\] one\n` +
        String.raw`\[[-0-9: +]+\] \[worker\] \[INFO\] \n\[[-0-9: +]+\] \[worker\] \[INFO\] two\n$`,
    ),
  );
  assert.match(prefixLines('no newline', 40, 7), /^\[[-0-9: +]+\] \[7\] \[ERROR\] no newline\n$/);
});

test("a worker's output is the app's, not a log level's: written with its pid under --log-level error too", () => {
  const lines: string[] = [];
  const log = new Logger(levels.error, (line) => lines.push(line));
  log.info('dropped');
  log.output('print()ed\n', 4242);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^\[[-0-9: +]+\] \[4242\] \[INFO\] print\(\)ed\n$/);
});

/** Node's stream over a pipe nobody reads: it holds what it is given until drain(). */
export class StalledStream {
  private chunks: (string | Uint8Array)[] = [];
  writableLength = 0;
  write(data: string | Uint8Array): boolean {
    this.chunks.push(data);
    this.writableLength += data.length;
    return false;
  }
  /** The reader took it all. */
  drain(): string {
    const text = this.chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString())).join('');
    this.chunks = [];
    this.writableLength = 0;
    return text;
  }
}

const eagain = (): never => {
  throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
};

test("a full pipe (EAGAIN): about 1 MiB waits in Node's stream, in order; lines beyond it are dropped, counted, and said once", () => {
  const out: string[] = [];
  let full = false;
  const stream = new StalledStream();
  const log = new Logger(
    20,
    stderrSink(
      (text) => (full ? eagain() : void out.push(text)),
      () => stream,
    ),
  );
  log.info('before');
  full = true;
  const line = 'x'.repeat(1000);
  const n = Math.ceil((3 * QUEUE_MAX) / 1000);
  for (let i = 0; i < n; i++) log.info(`${i} ${line}`);
  assert.ok(stream.writableLength <= QUEUE_MAX, `${stream.writableLength} bytes wait`);
  const kept = stream.drain().split('\n').slice(0, -1);
  assert.ok(kept.length > 900 && kept.length < 1100, `${kept.length} lines kept`);
  kept.forEach((l, i) => assert.match(l, new RegExp(`\\[INFO\\] ${i} x+$`)));
  // drained; the pipe takes lines again
  full = false;
  log.info('after');
  log.info('again');
  assert.equal(out.length, 3);
  assert.match(
    out[1]!,
    new RegExp(
      `^\\[[-0-9: +]+\\] \\[\\d+\\] \\[WARNING\\] ${n - kept.length} log lines were lost: ` +
        `the reader of stderr fell behind \\(EAGAIN\\) with 1 MiB queued\n\\[[-0-9: +]+\\] \\[\\d+\\] \\[INFO\\] after\n$`,
    ),
  );
  assert.match(out[2]!, /\[INFO\] again\n$/);
});

test('lines wait behind what the stream holds, even when the pipe has room again; the rest of a line written in part follows it', () => {
  const out: string[] = [];
  let room = Infinity; // bytes the pipe takes next
  const stream = new StalledStream();
  const log = new Logger(
    20,
    stderrSink(
      (text) => {
        const n = Math.min(room, Buffer.byteLength(text));
        out.push(text.slice(0, n));
        return n;
      },
      () => stream,
    ),
  );
  log.info('one');
  room = 10;
  log.info('two'); // cut after 10 bytes: the rest waits
  room = Infinity;
  log.info('three'); // the pipe has room, but the rest of "two" waits: it goes behind it
  assert.equal(out.length, 2);
  const text = out.join('') + stream.drain();
  assert.match(text, /^\[[^\n]+\[INFO\] one\n\[[^\n]+\[INFO\] two\n\[[^\n]+\[INFO\] three\n$/);
  log.info('four');
  assert.equal(out.length, 3, 'written at once again');
  assert.match(out[2]!, /^\[[^\n]+\[INFO\] four\n$/);
});

test("--gateways N: a write to a shared pipe is whole lines of at most PIPE_BUF bytes, so no process tears another's lines", () => {
  const line = (n: number, c: string): string => `${c.repeat(n - 1)}\n`;
  // short: one piece, as it is
  assert.deepEqual(
    linePieces(Buffer.from('a\nb\n')).map((b) => b.toString()),
    ['a\nb\n'],
  );
  // many lines: cut after a line end, each piece at most PIPE_BUF, nothing lost or reordered
  const many = Array.from({ length: 300 }, (_, i) => line(10 + (i % 90), String.fromCharCode(97 + (i % 26)))).join('');
  const pieces = linePieces(Buffer.from(many));
  assert.ok(pieces.length > 1);
  for (const p of pieces) {
    assert.ok(p.length <= PIPE_BUF, `${p.length} bytes`);
    assert.equal(p.at(-1), 10, 'ends at a line end');
  }
  assert.equal(Buffer.concat(pieces).toString(), many);
  // a line longer than PIPE_BUF is a piece of its own; the lines around it are not glued to it
  const long = line(PIPE_BUF + 100, 'x');
  const around = linePieces(Buffer.from(`${line(3000, 'a')}${long}${line(3000, 'b')}`)).map((b) => b.toString());
  assert.deepEqual(around, [line(3000, 'a'), long, line(3000, 'b')]);
  // a last line without its newline is kept
  assert.equal(Buffer.concat(linePieces(Buffer.from(`${line(4000, 'a')}tail`))).toString(), `${line(4000, 'a')}tail`);

  // the stderr sink writes a long record (a traceback) in such pieces, each with its own write
  const writes: string[] = [];
  const log = new Logger(
    20,
    stderrSink((text) => void writes.push(text)),
  );
  log.output(Array.from({ length: 200 }, (_, i) => `frame ${i} of a long traceback`).join('\n'), 42);
  assert.ok(writes.length > 1);
  for (const w of writes) assert.ok(Buffer.byteLength(w) <= PIPE_BUF && w.endsWith('\n'));
  assert.equal(writes.join('').split('\n').length, 201);
});
