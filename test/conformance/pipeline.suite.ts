// One PEP 3333 suite, run against every listener through a factory (STYLE.md §7,
// after hono's router suite and h3's describeMatrix): the same app, the same
// requests, the same answers, whether they came over HTTP/1.1 or from a web
// server in front over FastCGI, SCGI or uwsgi. The listeners share one
// Exchange (src/listeners/exchange.ts); this is what holds them to it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

export interface Request {
  method: string;
  path: string;
  query?: string;
  headers?: [string, string][];
  body?: Buffer;
}

export interface Response {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  /** The response ended by a broken connection, not a complete framing. */
  aborted: boolean;
}

export interface Target {
  send(req: Request): Promise<Response>;
  /** The wire tells a cut-off response from an ended one (SCGI and uwsgi end both by closing). */
  readonly detectsAbort: boolean;
  stop(): Promise<void>;
}

/** Start warpipe serving `app` (a fixture in test/fixtures/apps) with `args`, reachable over one listener. */
export type Factory = (app: string, args: string[]) => Promise<Target>;

const json = (r: Response): Record<string, unknown> => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

export function runConformance(name: string, start: Factory): void {
  describe(`PEP 3333 over ${name}`, () => {
    let target: Target;
    const dir = mkdtempSync(`${tmpdir()}/warpipe-conformance-`);
    before(async () => {
      target = await start('pep3333:application', ['--workers', '2']);
    });
    after(async () => {
      await target.stop();
    });

    test('the environ: CGI variables and the wsgi.* keys', async () => {
      const r = await target.send({ method: 'GET', path: '/environ', query: 'a=1&b=%20', headers: [['X-Thing', 'yes']] });
      assert.equal(r.status, 200);
      const env = json(r);
      assert.equal(env.REQUEST_METHOD, 'GET');
      assert.equal(env.PATH_INFO, '/environ');
      assert.equal(env.SCRIPT_NAME, '');
      assert.equal(env.QUERY_STRING, 'a=1&b=%20');
      assert.equal(env.HTTP_X_THING, 'yes');
      assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
      assert.equal(env['wsgi.url_scheme'], 'http');
      assert.deepEqual(env['wsgi.version'], [1, 0]);
      assert.equal(typeof env['wsgi.input'], 'string');
      assert.equal(typeof env.SERVER_NAME, 'string');
    });

    test('a body read whole, and one over --buffer-request-body that streams', async () => {
      const small = await target.send({ method: 'POST', path: '/echo', body: Buffer.from('hello body') });
      assert.equal(small.status, 200);
      assert.equal(small.body.toString(), 'hello body');
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'q');
      const r = await target.send({ method: 'POST', path: '/echo', body: big });
      assert.equal(r.headers.get('x-length'), String(big.length));
      assert.ok(r.body.equals(big));
    });

    test('write(), then the returned iterable, in order', async () => {
      const r = await target.send({ method: 'GET', path: '/write' });
      assert.equal(r.body.toString(), 'one,two,three');
    });

    test('a generator body', async () => {
      const r = await target.send({ method: 'GET', path: '/slow-generator' });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'slow0;slow1;slow2;');
    });

    test('close() is called', async () => {
      const marker = `${dir}/closed-${name.replace(/\W/g, '')}`;
      const r = await target.send({ method: 'GET', path: '/closing', query: marker });
      assert.equal(r.body.toString(), 'ab');
      for (let i = 0; i < 100 && !existsSync(marker); i++) await new Promise((res) => setTimeout(res, 20));
      assert.equal(readFileSync(marker, 'utf8'), 'closed');
    });

    test('an app that fails before start_response is a 500', async () => {
      const r = await target.send({ method: 'GET', path: '/error-before' });
      assert.equal(r.status, 500);
    });

    test('an app that fails after its head went out breaks the response, it does not send a second status', async () => {
      const r = await target.send({ method: 'GET', path: '/error-after' });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'a');
      if (target.detectsAbort) assert.ok(r.aborted, 'the response is cut off, not ended');
    });

    test('exc_info replaces the status and headers before any byte left', async () => {
      const r = await target.send({ method: 'GET', path: '/exc-info' });
      assert.equal(r.status, 503);
      assert.equal(r.body.toString(), 'replaced');
    });

    test('wsgi.file_wrapper', async () => {
      const r = await target.send({ method: 'GET', path: '/file', query: '99990' });
      assert.equal(r.body.toString(), '0123456789');
    });

    test('bytes written before a wsgi.file_wrapper come first, then the file', async () => {
      const r = await target.send({ method: 'GET', path: '/write-then-file' });
      assert.equal(r.body.toString(), `${'before:'.repeat(1000)}0123456789`);
    });

    test('statuses pass through; CR/LF in a header is a 500 and nothing of it is sent', async () => {
      assert.equal((await target.send({ method: 'GET', path: '/status', query: '418' })).status, 418);
      assert.equal((await target.send({ method: 'GET', path: '/empty' })).status, 204);
      const bad = await target.send({ method: 'GET', path: '/bad-header' });
      assert.equal(bad.status, 500);
      assert.ok(!bad.body.includes('should not be sent'));
      assert.ok(!bad.headers.has('set-cookie'));
    });

    test('a large response, whole and streamed', async () => {
      const whole = await target.send({ method: 'GET', path: '/big', query: '3' });
      assert.equal(whole.body.length, 3 << 20);
      const streamed = await target.send({ method: 'GET', path: '/big-stream', query: '3' });
      assert.equal(streamed.body.length, 3 << 20);
      assert.ok(!streamed.aborted);
    });
  });
}
