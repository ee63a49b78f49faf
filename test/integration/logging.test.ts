// --access-log, --access-log-format and --log-file, with real processes: a
// line per request as the client saw it (the 400 from the parser, the 502 of a
// worker that died, 499 for a client that left), the gateway listeners too;
// the log file takes the workers' own output; SIGUSR1 reopens both after
// rotation; a full disk costs log lines, never requests, and is said once.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { CLI, FIXTURES, runCli, startServer, type Server } from '../helpers/server.js';
import { exchange, parseResponses } from '../helpers/raw.js';
import { encodeScgiHead } from '../../src/protocols/scgi/netstring.js';

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');

/** Wait until the file at `path` matches `pattern`; returns its text. */
async function waitForFile(path: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = read(path);
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`${path} never matched ${pattern}; it holds:\n${text}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('--access-log (combined)', () => {
  let srv: Server;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-access-`);
  const log = `${dir}/access.log`;
  before(async () => {
    srv = await startServer('pep3333:application', {
      args: ['--access-log', log, '--scgi', `unix:${dir}/scgi.sock`, '--limit-request-body', '1000'],
    });
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('a line per request with the status and body bytes the client got, in order, pipelined or not', async () => {
    const { bytes } = await exchange(
      srv.port,
      get('/sized?5', 'Referer: http://r.test/\r\nUser-Agent: t/1\r\n') +
        get('/status?404', `Authorization: Basic ${Buffer.from('bob:pw').toString('base64')}\r\n`) +
        'HEAD /generator HTTP/1.1\r\nHost: x\r\n\r\n',
      { idleMs: 500 },
    );
    assert.equal(parseResponses(bytes, [false, false, true]).length, 3);
    const text = await waitForFile(log, /HEAD \/generator/);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(
      lines[0]!,
      /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/sized\?5 HTTP\/1\.1" 200 5 "http:\/\/r\.test\/" "t\/1"$/,
    );
    assert.match(lines[1]!, /^127\.0\.0\.1 - bob \[[^\]]+\] "GET \/status\?404 HTTP\/1\.1" 404 \d+ "-" "-"$/);
    assert.match(lines[2]!, /"HEAD \/generator HTTP\/1\.1" 200 0 /, 'a HEAD sends no body bytes');
  });

  test('answers made by the gateway: 400 for garbage, 413, 502 for a worker that died; 499 for a client that left', async () => {
    const before = read(log).length;
    const bad = await exchange(srv.port, 'GARBAGE\r\n\r\n');
    assert.equal(parseResponses(bad.bytes)[0]!.status, 400);
    assert.equal((await fetch(`${srv.url}/echo`, { method: 'POST', body: 'x'.repeat(2000) })).status, 413);
    assert.equal((await fetch(`${srv.url}/die`)).status, 502);
    await new Promise<void>((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1', () => sock.write(get('/slow-generator')));
      sock.once('data', () => {
        sock.destroy();
        resolve();
      });
    });
    const text = (await waitForFile(log, /slow-generator[^\n]*\n/)).slice(before);
    assert.match(text, /^127\.0\.0\.1 - - \[[^\]]+\] "-" 400 12 "-" "-"$/m);
    assert.match(text, /"POST \/echo HTTP\/1\.1" 413 \d+ /);
    assert.match(text, /"GET \/die HTTP\/1\.1" 502 12 /);
    assert.match(text, /"GET \/slow-generator HTTP\/1\.1" 499 \d+ /);
  });

  test('a request through the SCGI listener is logged with the address the web server in front saw', async () => {
    const before = read(log).length;
    const head = encodeScgiHead([
      ['CONTENT_LENGTH', '0'],
      ['SCGI', '1'],
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_URI', '/sized?3'],
      ['PATH_INFO', '/sized'],
      ['QUERY_STRING', '3'],
      ['SERVER_NAME', 'x'],
      ['SERVER_PORT', '80'],
      ['SERVER_PROTOCOL', 'HTTP/1.1'],
      ['REMOTE_ADDR', '203.0.113.7'],
      ['HTTP_USER_AGENT', 'via nginx'],
    ]);
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(`${dir}/scgi.sock`, () => sock.end(head));
      sock.on('error', reject);
      sock.resume();
      sock.on('close', () => resolve());
    });
    const text = (await waitForFile(log, /203\.0\.113\.7/)).slice(before);
    assert.match(text, /^203\.0\.113\.7 - - \[[^\]]+\] "GET \/sized\?3 HTTP\/1\.1" 200 3 "-" "via nginx"$/m);
  });
});

test('--access-log-format json and templates; a bad format or an unopenable file is one line and exit 2', async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-access-`);
  const srv = await startServer('pep3333:application', { args: ['--access-log', `${dir}/a.log`, '--access-log-format', 'json'] });
  await fetch(`${srv.url}/sized?4`, { headers: { 'User-Agent': 'x"y' } });
  const entry = JSON.parse(await waitForFile(`${dir}/a.log`, /\n/)) as Record<string, unknown>;
  assert.equal(await srv.stop(), 0);
  assert.equal(entry.method, 'GET');
  assert.equal(entry.uri, '/sized?4');
  assert.equal(entry.status, 200);
  assert.equal(entry.bytes, 4);
  assert.equal(entry.user_agent, 'x"y');
  assert.equal(entry.listener, 'http');

  const tpl = await startServer('pep3333:application', {
    args: ['--access-log', `${dir}/t.log`, '--access-log-format', '$status ${request_method}:$uri $http_x_request_id $request_time_us'],
  });
  await fetch(`${tpl.url}/sized?1`, { headers: { 'X-Request-Id': 'r-1' } });
  assert.match(await waitForFile(`${dir}/t.log`, /\n/), /^200 GET:\/sized r-1 \d+\n$/);
  assert.equal(await tpl.stop(), 0);

  const unknown = await runCli(['pep3333:application', '--access-log', `${dir}/u.log`, '--access-log-format', '$status $bogus']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^warpipe: --access-log-format: unknown variable \$bogus \(known: [^\n]*\) \(see warpipe --help\)\n$/);
  const nowhere = await runCli(['pep3333:application', '--access-log', `${dir}/missing/a.log`]);
  assert.equal(nowhere.code, 2);
  assert.equal(nowhere.stderr, `warpipe: cannot open log file ${dir}/missing/a.log: ENOENT\n`);
});

test("without --log-file, the workers' own output reaches stderr with the log's prefix and their pid", async () => {
  const srv = await startServer('pep3333:application');
  assert.equal(await (await fetch(`${srv.url}/print`)).text(), 'printed');
  await srv.waitForLog(/raw stderr from the app/);
  const printed = /^\[[-0-9: +]+\] \[(\d+)\] \[INFO\] print\(\) from pid (\d+)$/m.exec(srv.logs());
  assert.ok(printed, srv.logs());
  assert.equal(printed[1], printed[2], "the tag is the worker's pid");
  assert.match(srv.logs(), new RegExp(String.raw`^\[[-0-9: +]+\] \[${printed[2]}\] \[INFO\] raw stderr from the app$`, 'm'));
  assert.equal(await srv.stop(), 0);
});

test('a full disk under the access log: every request is still served, and the trouble is said once', async () => {
  const srv = await startServer('pep3333:application', { args: ['--access-log', '/dev/full'] });
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await fetch(`${srv.url}/sized?2`)).status);
  await Promise.all(Array.from({ length: 20 }, () => fetch(`${srv.url}/sized?2`).then((r) => statuses.push(r.status))));
  assert.deepEqual(statuses, Array(25).fill(200));
  await srv.waitForLog(/cannot write to the access log \/dev\/full \(ENOSPC\): request lines are dropped until it can/);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(srv.logs().split('cannot write to the access log').length, 2, 'said once');
  assert.equal(await srv.stop(), 0);
});

test("--log-file: the log and the workers' own output go to the file; SIGUSR1 reopens it and the access log after rotation", async () => {
  const dir = mkdtempSync(`${tmpdir()}/warpipe-logfile-`);
  const logFile = `${dir}/warpipe.log`;
  const access = `${dir}/access.log`;
  const proc = spawn(
    process.execPath,
    [CLI, 'pep3333:application', '--http', '127.0.0.1:0', '--workers', '1', '--log-file', logFile, '--access-log', access],
    {
      cwd: FIXTURES,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout.resume();
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  try {
    const port = Number(
      /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(await waitForFile(logFile, /listening on http:\/\/127\.0\.0\.1:\d+/))![1],
    );
    await waitForFile(logFile, /1 worker ready/);
    const url = `http://127.0.0.1:${port}`;
    assert.equal(await (await fetch(`${url}/print`)).text(), 'printed');
    let text = await waitForFile(logFile, /raw stderr from the app/);
    // issue 12: with the log's own prefix (time, the worker's pid, a level)
    const printed = /^\[[-0-9: +]+\] \[(\d+)\] \[INFO\] print\(\) from pid (\d+)$/m.exec(text);
    assert.ok(printed, text);
    assert.equal(printed[1], printed[2], "the tag is the worker's pid");
    assert.match(text, new RegExp(String.raw`^\[[-0-9: +]+\] \[${printed[2]}\] \[INFO\] raw stderr from the app$`, 'm'));
    assert.match(text, /^\[[-0-9: +]+\] \[\d+\] \[INFO\] 1 worker ready$/m);
    await waitForFile(access, /"GET \/print HTTP\/1\.1" 200 7 /);

    // logrotate: move both files away, then SIGUSR1
    renameSync(logFile, `${logFile}.1`);
    renameSync(access, `${access}.1`);
    proc.kill('SIGUSR1');
    text = await waitForFile(logFile, /\[INFO\] status:/);
    assert.equal((await fetch(`${url}/print`)).status, 200);
    await waitForFile(access, /"GET \/print HTTP\/1\.1" 200 7 /);
    text = await waitForFile(logFile, /raw stderr from the app/);
    assert.doesNotMatch(read(`${access}.1`), /\n.*\n.*GET \/print/, 'the old access log got no new line');
    assert.equal(read(`${access}.1`).split('\n').length, 2);
    assert.doesNotMatch(read(`${logFile}.1`), /status:/);
    assert.equal(stderr, '', 'nothing went to stderr');
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  assert.match(read(logFile), /\[INFO\] stopped\n$/);
});
