// warpipe as a library (docs/embedding.md): startGateway in this process with
// real Python workers, and the examples' middleware both ways — given to
// startGateway as functions and loaded by `warpipe --middleware` — each checked
// with real HTTP requests and what the Python app saw.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigCheckError, ConfigError, StartError, WorkerError, startGateway, type Middleware } from '../../src/index.js';
import { FIXTURES, ROOT, runCli, startServer } from '../helpers/server.js';
import { alive } from '../helpers/procs.js';

// the examples, as a program imports them (plain .mjs files, outside dist/)
interface Examples {
  requestId: Middleware;
  authGate: (o: { tokens: Record<string, string>; open?: string[] }) => Middleware;
  responseHeaders: (add: [string, string][]) => Middleware;
}
async function examples(): Promise<Examples> {
  const requestId = (await import(`${ROOT}examples/request-id.mjs`)) as { default: Middleware };
  const headers = (await import(`${ROOT}examples/response-headers.mjs`)) as { responseHeaders: Examples['responseHeaders'] };
  const auth = (await import(`${ROOT}examples/auth-gate.mjs`)) as { authGate: Examples['authGate'] };
  return { requestId: requestId.default, authGate: auth.authGate, responseHeaders: headers.responseHeaders };
}

const scratch = mkdtempSync(join(tmpdir(), 'warpipe-embed-'));
writeFileSync(join(scratch, 'file.txt'), 'a static file\n');
after(() => rmSync(scratch, { recursive: true, force: true }));

const environOf = async (res: Response): Promise<Record<string, unknown>> => (await res.json()) as Record<string, unknown>;

describe('startGateway', () => {
  test('config: a TOML file as --config reads it (its paths relative to it); the options win over it', async () => {
    const dir = join(scratch, 'site');
    mkdirSync(join(dir, 'pub'), { recursive: true });
    writeFileSync(join(dir, 'pub', 'x.txt'), "from the file's directory");
    writeFileSync(join(dir, 'warpipe.toml'), `chdir = "${FIXTURES}"\nhttp = ["127.0.0.1:0"]\nworkers = 1\nstatic = ["/pub=pub"]\n`);
    const gateway = await startGateway({ app: 'pep3333:application', config: join(dir, 'warpipe.toml'), workers: 2, log: () => {} });
    try {
      assert.equal(gateway.status().workers.length, 2, 'the option, not the file');
      assert.equal(await (await fetch(`${gateway.url}/pub/x.txt`)).text(), "from the file's directory");
    } finally {
      await gateway.close();
    }
    await assert.rejects(
      startGateway({ app: 'pep3333:application', config: join(dir, 'nothing.toml') }),
      (err: Error) => err instanceof ConfigCheckError && /nothing\.toml: no such file/.test(err.message),
    );
  });

  test('serves the Python app behind TypeScript middleware; close() drains and the workers are gone', async () => {
    const { requestId, authGate, responseHeaders } = await examples();
    const lines: string[] = [];
    const sigterm = process.listenerCount('SIGTERM');
    const gateway = await startGateway({
      app: 'pep3333:application',
      chdir: FIXTURES,
      http: ['127.0.0.1:0', '127.0.0.1:0'],
      workers: 2,
      keepaliveTimeout: 3, // seconds, as a number
      static: [`/files=${scratch}`],
      middleware: [requestId, responseHeaders([['X-Frame-Options', 'DENY']]), authGate({ tokens: { alice: 's3cret' }, open: ['/empty'] })],
      log: (line) => lines.push(line),
    });
    try {
      assert.equal(process.listenerCount('SIGTERM'), sigterm, 'no signal handler of its own');
      assert.equal(gateway.addresses.length, 2);
      for (const a of gateway.addresses) {
        assert.equal(a.protocol, 'http');
        assert.ok(a.address.kind === 'tcp' && a.address.port > 0, 'the real port, not 0');
        assert.equal(a.url, a.address.kind === 'tcp' ? `http://127.0.0.1:${a.address.port}` : null);
      }
      assert.equal(gateway.url, gateway.addresses[0]!.url);
      assert.notEqual(gateway.addresses[0]!.url, gateway.addresses[1]!.url);
      assert.equal(gateway.status().workers.length, 2);
      assert.ok(
        lines.some((l) => /\[INFO\] 2 workers ready\n$/.test(l)),
        `the log went to the sink:\n${lines.join('')}`,
      );

      // the auth gate answers in the gateway: the worker never sees the request
      const denied = await fetch(`${gateway.url}/environ`);
      assert.equal(denied.status, 401);
      assert.equal(denied.headers.get('www-authenticate'), 'Bearer realm="warpipe"');
      assert.match(denied.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'outer middleware still wraps the 401');
      assert.equal(denied.headers.get('x-frame-options'), 'DENY');
      assert.equal(await denied.text(), 'a bearer token is needed\n');
      const wrong = await fetch(`${gateway.url}/environ`, { headers: { Authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401);

      // with the token: what the middleware put in the environ reaches Python
      const res = await fetch(`${gateway.url}/environ`, { headers: { Authorization: 'Bearer s3cret', 'X-Request-Id': 'abc-123' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-request-id'), 'abc-123');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      const environ = await environOf(res);
      assert.equal(environ.REMOTE_USER, 'alice');
      assert.equal(environ.AUTH_TYPE, 'Bearer');
      assert.equal(environ.HTTP_X_REQUEST_ID, 'abc-123');
      // an id that does not look like one is replaced
      const odd = await fetch(`${gateway.url}/environ`, { headers: { Authorization: 'Bearer s3cret', 'X-Request-Id': 'a b' } });
      const oddId = odd.headers.get('x-request-id') ?? '';
      assert.match(oddId, /^[0-9a-f-]{36}$/);
      assert.equal((await environOf(odd)).HTTP_X_REQUEST_ID, oddId);

      // an open path passes without a token; static files are wrapped too
      assert.equal((await fetch(`${gateway.url}/empty`)).status, 204);
      const file = await fetch(`${gateway.addresses[1]!.url}/files/file.txt`, { headers: { Authorization: 'Bearer s3cret' } });
      assert.equal(await file.text(), 'a static file\n');
      assert.equal(file.headers.get('x-frame-options'), 'DENY');
      assert.match(file.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    } finally {
      const pids = gateway.status().workers.map((w) => w.pid);
      const closing = gateway.close();
      assert.equal(gateway.close(), closing, 'close() twice: the same promise');
      await closing;
      for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone once close() resolved`);
      assert.ok(lines.some((l) => l.includes('close(): draining')));
    }
    await assert.rejects(fetch(gateway.url!), 'nothing listens after close()');
  });

  test('a middleware given as a module path is imported; the order is outermost first', async () => {
    const order: string[] = [];
    const mark =
      (name: string): Middleware =>
      (app) =>
      (environ, startResponse) => {
        order.push(name);
        return app(environ, (status, headers, excInfo) => {
          order.push(`${name} sees the head`);
          return startResponse(status, headers, excInfo);
        });
      };
    const boom: Middleware = (app) => (environ, startResponse) => {
      if (environ.PATH_INFO === '/boom') throw new Error('boom in a middleware');
      return app(environ, startResponse);
    };
    const lines: string[] = [];
    let reloaded = (): void => {};
    const serving = new Promise<void>((resolve) => (reloaded = resolve));
    const gateway = await startGateway({
      app: 'examples/hello.py',
      http: '127.0.0.1:0',
      workers: 1,
      middleware: [mark('outer'), `${ROOT}examples/response-headers.mjs`, mark('inner'), boom],
      log: (line) => {
        lines.push(line);
        if (line.includes('reload: generation 1 serving')) reloaded();
      },
    });
    try {
      const res = await fetch(`${gateway.url}/json`);
      assert.deepEqual(await res.json(), { hello: 'world', path: '/json' });
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
      assert.deepEqual(order, ['outer', 'inner', 'inner sees the head', 'outer sees the head']);
      // a middleware that throws is the app's error: a 500 and the error in the log
      const failed = await fetch(`${gateway.url}/boom`);
      assert.equal(failed.status, 500);
      await failed.body?.cancel();
      assert.ok(
        lines.some((l) => l.includes('boom in a middleware')),
        lines.join(''),
      );
      // reload(): a new generation of workers, behind the same middleware
      const [old] = gateway.status().workers;
      gateway.reload();
      await serving;
      assert.ok(gateway.status().workers.some((w) => w.generation === 1 && w.pid !== old!.pid));
      const again = await fetch(`${gateway.url}/json`);
      assert.equal(again.headers.get('x-content-type-options'), 'nosniff');
      await again.body?.cancel();
    } finally {
      await gateway.close();
    }
  });

  test('bad options are the command line errors, thrown', async () => {
    const quiet = { log: () => {} };
    await assert.rejects(startGateway({ app: 'examples/hello.py', workrs: 2 } as never), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, 'startGateway: workrs: unknown setting');
      return true;
    });
    await assert.rejects(
      startGateway({ app: 'examples/hello.py', workers: 'two', ...quiet }),
      new ConfigError('startGateway: workers must be a whole number, or MIN:MAX, got "two"'),
    );
    await assert.rejects(startGateway({ app: 'examples/hello.py', http: 'nowhere:port', ...quiet }), ConfigError);
    await assert.rejects(
      startGateway({ app: 'a:b:c', ...quiet }),
      new ConfigError('app "a:b:c" is not MODULE:CALLABLE or path/to/file.py[:CALLABLE]'),
    );
    await assert.rejects(startGateway({ app: 'examples/hello.py', socketMode: 0o660 as never, ...quiet }), /socketMode must be octal text/);
    await assert.rejects(startGateway({ app: 'examples/hello.py', gateways: '2', workers: 2, ...quiet }), /one process/);
    await assert.rejects(
      startGateway({ app: 'examples/hello.py', static: ['/s=/no/such/dir'], ...quiet }),
      (err: Error) => err instanceof ConfigCheckError,
    );
    await assert.rejects(
      startGateway({ app: 'examples/hello.py', http: '127.0.0.1:0', middleware: [42 as never], ...quiet }),
      new ConfigError('startGateway: middleware[0] is neither a Middleware function nor a module path'),
    );
    await assert.rejects(
      startGateway({ app: 'examples/hello.py', http: '127.0.0.1:0', middleware: [() => 'no app' as never], ...quiet }),
      (err: Error) => err instanceof ConfigCheckError && /middleware\[0\]: it returned a string when given the app/.test(err.message),
    );
  });

  test('a start that fails lets go of what it bound: a taken port, an app that does not import', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    try {
      // the first address binds, the second is taken: the first must be free again
      await assert.rejects(
        startGateway({ app: 'examples/hello.py', http: [`127.0.0.1:${port}`, `127.0.0.1:${taken}`], workers: 1, log: () => {} }),
        (err: Error) => err instanceof StartError && /address already in use/.test(err.message),
      );
      await assertFree(port);
    } finally {
      blocker.close();
    }
    const lines: string[] = [];
    await assert.rejects(
      startGateway({ app: 'badimport:application', chdir: FIXTURES, http: `127.0.0.1:${port}`, workers: 1, log: (l) => lines.push(l) }),
      WorkerError,
    );
    assert.match(lines.join(''), /the app failed to start/);
    await assertFree(port);
  });
});

/** Nothing listens on `port` any more: a new server can take it. */
async function assertFree(port: number): Promise<void> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((r) => probe.close(() => r()));
}

describe('warpipe --middleware', () => {
  const mw = (name: string): string[] => ['--middleware', `${ROOT}examples/${name}`];

  test('examples/request-id.mjs and examples/response-headers.mjs, on the app and on static files', async () => {
    const srv = await startServer('pep3333:application', {
      args: [...mw('request-id.mjs'), ...mw('response-headers.mjs'), '--static', `/files=${scratch}`],
    });
    try {
      const res = await fetch(`${srv.url}/environ`);
      const id = res.headers.get('x-request-id') ?? '';
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal((await environOf(res)).HTTP_X_REQUEST_ID, id);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      const again = await fetch(`${srv.url}/environ`);
      assert.notEqual(again.headers.get('x-request-id'), id, 'a new id per request');
      await again.body?.cancel();
      const file = await fetch(`${srv.url}/files/file.txt`, { headers: { 'X-Request-Id': 'from-the-proxy' } });
      assert.equal(await file.text(), 'a static file\n');
      assert.equal(file.headers.get('x-request-id'), 'from-the-proxy');
      assert.equal(file.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('examples/auth-gate.mjs: 401 without the token, REMOTE_USER with it, with --gateways 2', async () => {
    const srv = await startServer('pep3333:application', {
      args: [...mw('auth-gate.mjs'), '--gateways', '2'],
      env: { AUTH_TOKENS: 'alice:s3cret,bob:hunter2' },
    });
    try {
      for (let i = 0; i < 6; i++) {
        // new connections, so both gateways take some
        const denied = await fetch(`${srv.url}/environ`, { headers: { Connection: 'close' } });
        assert.equal(denied.status, 401);
        await denied.body?.cancel();
        const res = await fetch(`${srv.url}/environ`, { headers: { Authorization: 'Bearer hunter2', Connection: 'close' } });
        assert.equal((await environOf(res)).REMOTE_USER, 'bob');
      }
      assert.equal(
        (await fetch(`${srv.url}/health`, { headers: { Connection: 'close' } })).status,
        404,
        '/health is open: the app answers',
      );
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('a package name is found from the directory (node_modules), an ES module or a CommonJS build alike', async () => {
    const pkg = (name: string, json: object, code: string): void => {
      mkdirSync(join(scratch, 'node_modules', name), { recursive: true });
      writeFileSync(join(scratch, 'node_modules', name, 'package.json'), JSON.stringify({ name, ...json }));
      writeFileSync(join(scratch, 'node_modules', name, 'index.js'), code);
    };
    pkg(
      'warpipe-esm-mw',
      { type: 'module', exports: { '.': { import: './index.js', default: './index.js' } } },
      "export default (app) => (e, sr) => app(e, (s, h, x) => sr(s, [...h, ['X-Esm', 'yes']], x));\n",
    );
    // what tsc writes for `export default` in a CommonJS build
    pkg(
      'warpipe-cjs-mw',
      { main: 'index.js' },
      "'use strict';\nObject.defineProperty(exports, '__esModule', { value: true });\n" +
        "exports.default = (app) => (e, sr) => app(e, (s, h, x) => sr(s, [...h, ['X-Cjs', 'yes']], x));\n",
    );
    const srv = await startServer(`${FIXTURES}hello.py`, {
      args: ['--middleware', 'warpipe-esm-mw', '--middleware', 'warpipe-cjs-mw'],
      cwd: scratch,
    });
    try {
      const res = await fetch(srv.url);
      assert.equal(res.headers.get('x-esm'), 'yes');
      assert.equal(res.headers.get('x-cjs'), 'yes');
      await res.body?.cancel();
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  test('a module that cannot be used: one line, exit 2', async () => {
    const write = (name: string, text: string): string => {
      writeFileSync(join(scratch, name), text);
      return join(scratch, name);
    };
    const cases: [string[], RegExp][] = [
      [['--middleware', './no-such.mjs'], /^warpipe: --middleware \/\S*\/no-such\.mjs: no such file\n$/],
      [
        ['--middleware', 'no-such-package'],
        /^warpipe: --middleware no-such-package: no package no-such-package found from \S+ \(Cannot find/,
      ],
      [mw('auth-gate.mjs'), /^warpipe: --middleware \S+auth-gate\.mjs: it threw when given the app: set AUTH_TOKENS to USER:TOKEN/],
      [['--middleware', write('obj.mjs', 'export default { app: 1 };\n')], /: its default export is an object, not a Middleware: /],
      [['--middleware', write('none.mjs', 'export const x = 1;\n')], /: it has no default export, not a Middleware: /],
      [['--middleware', write('syntax.mjs', 'export default (app => ;\n')], /: cannot import it: SyntaxError: /],
      [
        ['--middleware', write('throws.mjs', "export default () => { throw new Error('no way\\nsecond'); };\n")],
        /: it threw when given the app: no way\n$/,
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await runCli(['hello', '--http', '127.0.0.1:0', '--workers', '1', ...args], { cwd: FIXTURES });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const last = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('warpipe: '))
        .join('\n');
      assert.match(`${last}\n`, expected, r.stderr);
    }
    // one of --gateways 2 refuses it: the whole server exits 2
    const r = await runCli(['hello', '--http', '127.0.0.1:0', '--workers', '2', '--gateways', '2', ...mw('auth-gate.mjs')], {
      cwd: FIXTURES,
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /it threw when given the app: set AUTH_TOKENS/);
  });
});

test('examples/embed.mjs: the three examples in a program of its own, which owns its signals', async () => {
  const proc = spawn(process.execPath, [`${ROOT}examples/embed.mjs`], {
    cwd: scratch, // any directory: the example finds hello.py next to itself
    env: { ...process.env, HTTP: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const onText = (d: Buffer): void => {
      out += d.toString();
      const m = /serving examples\/hello\.py on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout.on('data', onText);
    proc.stderr.on('data', onText);
    void exited.then((code) => reject(new Error(`embed.mjs exited (${code}):\n${out}`)));
  });
  try {
    const denied = await fetch(url);
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('x-content-type-options'), 'nosniff');
    assert.match(denied.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    await denied.body?.cancel();
    const page = await fetch(url, { headers: { Authorization: 'Bearer s3cret' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /REMOTE_USER<\/td><td>&#x27;alice&#x27;/);
    const open = await fetch(`${url}/json`);
    assert.deepEqual(await open.json(), { hello: 'world', path: '/json' });
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /stopped\n$/);
  } finally {
    proc.kill('SIGKILL');
  }
});
