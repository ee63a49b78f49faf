// Issue 11: an app's response head over 16 MiB got a 502 and six "killing it"
// lines for one event (the worker's one-frame path skipped its head size check
// and sent a frame the gateway refuses, whose remains the gateway then read as
// more bad frames); a status outside 100-599 was passed through. Both are the
// app's errors: one 500, one log line naming the cause, and the worker serves on.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type Server } from '../helpers/server.js';
import { exchange, parseResponses, rawRequest } from '../helpers/raw.js';
import { HttpListener, Logger, defaultLimitsFor, type App } from '../helpers/pipeline.js';

describe('an app error in the response head is one 500 and one log line', () => {
  let srv: Server;
  let pid = '';
  let marks = 0;
  before(async () => {
    srv = await startServer('hostile:application', { args: ['--workers', '1'] });
    pid = await (await fetch(`${srv.url}/pid`)).text();
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  /** GET `path`, and what the gateway logged meanwhile (up to a mark logged after it: nothing is still on its way). */
  async function logged(path: string): Promise<{ status: number; log: string }> {
    const from = srv.logs().length;
    const r = await fetch(`${srv.url}${path}`);
    await r.arrayBuffer();
    const mark = `mark-${++marks}`;
    assert.equal(await (await fetch(`${srv.url}/note?${mark}`)).text(), 'noted');
    await srv.waitForLog(new RegExp(`note: ${mark}\n`));
    const log = srv.logs().slice(from);
    return { status: r.status, log: log.slice(0, log.lastIndexOf('\n[', log.indexOf(`note: ${mark}`)) + 1) };
  }

  /** The log records in `text` (a record may span lines: a traceback). */
  const records = (text: string): string[] => text.split(/^(?=\[\d{4}-\d\d-\d\d )/m).filter((r) => r !== '');

  test('a 17 MiB header: 500, one line naming the cause, the same worker serves the next request', async () => {
    const { status, log } = await logged('/huge-head?17');
    assert.equal(status, 500);
    const lines = records(log);
    assert.equal(lines.length, 1, log.slice(0, 4000));
    assert.match(
      lines[0]!,
      new RegExp(
        String.raw`^\[[^\]]+\] \[worker \d+\] \[ERROR\] Error handling request GET \/huge-head\?17\n[^]*` +
          String.raw`ValueError: response headers of 17825\d\d\d bytes: more than the 16 MiB a response head may have\n$`,
      ),
    );
    assert.doesNotMatch(srv.logs(), /killing it|exited/);
    assert.equal(await (await fetch(`${srv.url}/pid`)).text(), pid);
  });

  test('a head just within 16 MiB still goes out', async () => {
    const { bytes } = await exchange(srv.port, 'GET /huge-head?15 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { idleMs: 60_000 });
    const [r] = parseResponses(bytes);
    assert.equal(r!.status, 200);
    assert.equal(r!.headers.get('x-huge')!.length, 15 << 20);
    assert.equal(await (await fetch(`${srv.url}/pid`)).text(), pid);
  });

  test('status 999 (RFC 9110 allows 100-599): 500, one line naming it', async () => {
    for (const line of ['999 Weird', '600 Beyond', '099 Below']) {
      const { status, log } = await logged(`/status?${encodeURIComponent(line)}`);
      assert.equal(status, 500, line);
      const lines = records(log);
      assert.equal(lines.length, 1, log);
      assert.match(lines[0]!, new RegExp(`ValueError: invalid status '${line}': expected a code from 100 to 599`));
    }
    assert.equal(await (await fetch(`${srv.url}/pid`)).text(), pid);
  });

  test('statuses 100-599 are as before: 1xx is refused by the gateway as a final status, 599 passes', async () => {
    const interim = await logged(`/status?${encodeURIComponent('103 Early Hints')}`);
    assert.equal(interim.status, 500);
    assert.match(interim.log, /interim status 103 Early Hints/);
    assert.equal(records(interim.log).length, 1, interim.log);
    const r = await fetch(`${srv.url}/status?${encodeURIComponent('599 Odd')}`);
    assert.equal(r.status, 599);
    assert.equal(await r.text(), 'odd status');
  });
});

describe("a TypeScript app (the gateway's own check) with a status outside 100-599", () => {
  const logged: string[] = [];
  let listener: HttpListener;
  let port: number;
  const app: App = (environ, startResponse) => {
    startResponse(decodeURIComponent(environ.QUERY_STRING), [['Content-Type', 'text/plain']]);
    return ['odd status'];
  };
  before(async () => {
    listener = new HttpListener(app, defaultLimitsFor(), new Logger(10, (line) => void logged.push(line)));
    port = Number(/:(\d+)$/.exec(await listener.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 }, 0o660))![1]);
  });
  after(async () => {
    await listener.close();
  });

  test('999, 600: 500 and one line naming it; 599 and 200 pass', async () => {
    for (const line of ['999 Weird', '600 Beyond']) {
      logged.length = 0;
      const res = await rawRequest(port, `GET /?${encodeURIComponent(line)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 500, line);
      assert.equal(logged.length, 1, logged.join(''));
      assert.match(logged[0]!, new RegExp(`invalid status line: "${line}"`));
    }
    for (const line of ['599 Odd', '200 OK']) {
      const res = await rawRequest(port, `GET /?${encodeURIComponent(line)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(`${res.status} ${res.reason}`, line);
    }
  });
});
