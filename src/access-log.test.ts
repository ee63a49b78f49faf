import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { compileFormat, type AccessEntry } from './access-log.js';
import { LogFile, type LogFileTrouble } from './log-file.js';
import type { Environ } from './pipeline/types.js';

const environ = (extra: Record<string, string> = {}): Environ => ({
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/x',
  QUERY_STRING: 'q=1',
  REQUEST_URI: '/app/x?q=1',
  SERVER_NAME: 'example.test',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  HTTP_HOST: 'example.test:8080',
  'wsgi.url_scheme': 'http',
  'wsgi.input': null as never,
  'wsgi.errors': null as never,
  ...extra,
});
const entry = (e: Partial<AccessEntry> = {}): AccessEntry => ({
  environ: environ(),
  remoteAddr: '10.0.0.1',
  status: 200,
  bytes: 123,
  started: performance.now() - 12.5,
  listener: 'http',
  ...e,
});

test("combined is nginx's combined format", () => {
  const line = compileFormat('combined')(
    entry({
      environ: environ({
        HTTP_REFERER: 'http://r.test/',
        HTTP_USER_AGENT: 'UA/1',
        HTTP_AUTHORIZATION: 'Basic ' + Buffer.from('bob:secret').toString('base64'),
      }),
    }),
  );
  assert.match(
    line,
    new RegExp(
      String.raw`^10\.0\.0\.1 - bob \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] ` +
        String.raw`"GET \/app\/x\?q=1 HTTP\/1\.1" 200 123 "http:\/\/r\.test\/" "UA\/1"\n$`,
    ),
  );
  assert.doesNotMatch(line, /secret/);
});

test('common, and "-" for what is missing', () => {
  assert.match(
    compileFormat('common')(entry({ environ: null, status: 400, bytes: 12, remoteAddr: '' })),
    /^- - - \[[^\]]+\] "-" 400 12\n$/,
  );
});

test('a template: nginx variables, braces, $http_NAME, request time in seconds and microseconds', () => {
  const line = compileFormat(
    '${status}|$request_method|$uri|$query_string|$host|$http_x_request_id|$request_time|$request_time_us|$listener|$pid',
  )(entry({ environ: environ({ HTTP_X_REQUEST_ID: 'abc' }), status: 201 }));
  const [status, method, uri, query, host, id, secs, us, listener, pid] = line.trimEnd().split('|');
  assert.deepEqual(
    [status, method, uri, query, host, id, listener, pid],
    ['201', 'GET', '/app/x', 'q=1', 'example.test:8080', 'abc', 'http', String(process.pid)],
  );
  assert.ok(Number(secs) >= 0.012 && Number(secs) < 1, secs);
  assert.ok(Number(us) >= 12_000 && Number(us) < 1_000_000, us);
});

test('values are escaped: a client cannot end a field or forge a line', () => {
  const line = compileFormat('"$http_user_agent" "$http_referer"')(
    entry({ environ: environ({ HTTP_USER_AGENT: 'a"b\\c\r\nd\x7f\xe9', HTTP_REFERER: '\x00' }) }),
  );
  assert.equal(line, '"a\\x22b\\x5Cc\\x0D\\x0Ad\\x7F\\xE9" "\\x00"\n');
});

test('json: one object per line, with nulls for what is missing, escaped by JSON', () => {
  const full = JSON.parse(compileFormat('json')(entry({ environ: environ({ HTTP_USER_AGENT: 'q"\n' }) }))) as Record<string, unknown>;
  assert.equal(full.method, 'GET');
  assert.equal(full.uri, '/app/x?q=1');
  assert.equal(full.status, 200);
  assert.equal(full.bytes, 123);
  assert.equal(full.user_agent, 'q"\n');
  assert.equal(full.referer, null);
  assert.equal(full.host, 'example.test:8080');
  assert.ok((full.request_time as number) >= 0.012);
  assert.match(full.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
  const bare = JSON.parse(compileFormat('json')(entry({ environ: null, status: 400 }))) as Record<string, unknown>;
  assert.equal(bare.method, null);
  assert.equal(bare.status, 400);
});

test('a format with an unknown variable, or with none, is refused in one line', () => {
  assert.throws(() => compileFormat('$status $nope'), /^Error: unknown variable \$nope \(known: .*\$http_NAME\)$/);
  assert.throws(() => compileFormat('fancy'), /has no \$variable \(or name one of: combined, common, json\)/);
});

/** A LogFile in a fresh directory whose writes fail while `full` is set, and its reported trouble. */
function fillable(sync: boolean): { file: LogFile; path: string; said: string[]; disk: { full: boolean } } {
  const path = `${mkdtempSync(`${tmpdir()}/warpipe-logfile-`)}/a.log`;
  const said: string[] = [];
  const disk = { full: false };
  const trouble: LogFileTrouble = {
    failing: (_f, why) => said.push(`failing ${why}`),
    recovered: (_f, lost, why) => said.push(`recovered ${lost} ${why}`),
  };
  const file = new LogFile(path, sync, trouble, (fd, data, off) => {
    if (disk.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return writeSync(fd, data, off);
  });
  return { file, path, said, disk };
}

test('a log file that cannot be written loses lines, not the server; says so once, and counts the loss when it works again', async () => {
  const { file, path, said, disk } = fillable(true);
  file.write('one\n');
  disk.full = true;
  file.write('two\n');
  file.write('three\n');
  assert.deepEqual(said, ['failing ENOSPC']);
  disk.full = false;
  file.write('four\n');
  assert.deepEqual(said, ['failing ENOSPC', 'recovered 2 ENOSPC']);
  file.close();
  assert.equal(readFileSync(path, 'utf8'), 'one\nfour\n');
});

test('buffered: lines are gathered and written together, in order; reopen() starts a new file at the path', async () => {
  const { file, path } = fillable(false);
  file.write('a\n');
  file.write('b\n');
  assert.equal(readFileSync(path, 'utf8'), '', 'nothing yet: gathered');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(readFileSync(path, 'utf8'), 'a\nb\n', 'written within 100 ms');
  const long = 'x'.repeat(1000) + '\n';
  for (let i = 0; i < 66; i++) file.write(long);
  assert.ok(readFileSync(path, 'utf8').length > 60_000, 'written at once when the 64 KiB buffer is full');
  file.write('c\n');
  renameSync(path, `${path}.1`);
  file.reopen();
  file.write('d\n');
  file.close();
  assert.equal(
    readFileSync(`${path}.1`, 'utf8'),
    'a\nb\n' + long.repeat(66) + 'c\n',
    'what was gathered before the reopen went to the old file',
  );
  assert.equal(readFileSync(path, 'utf8'), 'd\n');
});

test('a log file that cannot be opened is one line naming it', () => {
  const none: LogFileTrouble = { failing: () => {}, recovered: () => {} };
  assert.throws(() => new LogFile('/nonexistent-dir/a.log', true, none), /^Error: cannot open log file \/nonexistent-dir\/a\.log: ENOENT$/);
});

test(
  '"-" on a full pipe (EAGAIN): about 1 MiB waits in Node\'s stream, ' + 'the rest is dropped, said once, and counted once it drained',
  () => {
    const said: string[] = [];
    let full = true;
    const chunks: Uint8Array[] = [];
    const stream = {
      writableLength: 0,
      write(data: string | Uint8Array): boolean {
        chunks.push(Buffer.from(data));
        this.writableLength += data.length;
        return false;
      },
    };
    const written: string[] = [];
    const file = new LogFile(
      '-',
      true,
      {
        failing: (_f, why) => said.push(`failing ${why}`),
        recovered: (_f, lost, why) => said.push(`recovered ${lost} ${why}`),
      },
      (_fd, data, off) => {
        if (full) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
        written.push(data.toString('utf8', off));
        return data.length - off;
      },
      () => stream,
    );
    const line = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < 3000; i++) file.write(line);
    assert.ok(stream.writableLength <= 1 << 20, `${stream.writableLength} bytes wait`);
    assert.equal(chunks.length, 1024);
    assert.deepEqual(said, ['failing EAGAIN: stdout is read too slowly, 1 MiB queued']);
    // the reader took it all, and the pipe has room
    chunks.length = 0;
    stream.writableLength = 0;
    full = false;
    file.write('after\n');
    assert.deepEqual(written, ['after\n']);
    assert.deepEqual(said.slice(1), ['recovered 1976 EAGAIN: stdout is read too slowly, 1 MiB queued']);
  },
);

test('--access-log - with --gateways N: what is gathered goes to stdout in writes of whole lines, at most PIPE_BUF each', () => {
  const writes: Buffer[] = [];
  const none: LogFileTrouble = { failing: () => {}, recovered: () => {} };
  const file = new LogFile('-', false, none, (_fd, data, off) => {
    writes.push(Buffer.from(data.subarray(off)));
    return data.length - off;
  });
  const lines = Array.from({ length: 500 }, (_, i) => `127.0.0.1 - - "GET /${i} HTTP/1.1" 200 13\n`);
  for (const line of lines) file.write(line);
  file.flush();
  assert.ok(writes.length > 1);
  for (const w of writes) assert.ok(w.length <= 4096 && w.at(-1) === 10, `${w.length} bytes`);
  assert.equal(Buffer.concat(writes).toString(), lines.join(''));
});

test('$cut and the json "cut": "shutdown" for a request the server cut off at the end of the drain, else - and null', () => {
  const line = compileFormat('$status $cut');
  assert.equal(line(entry({ environ: environ({ 'warpipe.cut': 'shutdown' }), status: 503 })), '503 shutdown\n');
  assert.equal(line(entry({ environ: environ({}) })), '200 -\n');
  assert.equal(line(entry({ environ: null, status: 400 })), '400 -\n');
  const cut = JSON.parse(compileFormat('json')(entry({ environ: environ({ 'warpipe.cut': 'shutdown' }) }))) as Record<string, unknown>;
  assert.equal(cut.cut, 'shutdown');
  assert.equal((JSON.parse(compileFormat('json')(entry({ environ: environ({}) }))) as Record<string, unknown>).cut, null);
});
