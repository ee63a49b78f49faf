// nginx in front of warpipe over FastCGI, SCGI and uwsgi (fastcgi_pass to
// --fastcgi, scgi_pass to --scgi, uwsgi_pass to --uwsgi), the classic
// nginx + spawn-fcgi + flup and nginx + uWSGI positions: the same app answers
// the same through each as through warpipe's own HTTP listener. Real nginx,
// real workers, nginx's stock *_params files. Then web.py, served all three ways;
// and nginx proxy_pass to --http, whose X-Forwarded-For --forwarded-allow-ips believes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PYTHON, pythonHas, requirePeer, startServer, type Server } from '../helpers/server.js';
import { freePort, waitForPort } from '../helpers/net.js';

const NGINX = '/usr/sbin/nginx';
const FRAMEWORKS = fileURLToPath(new URL('../../../test/fixtures/frameworks/', import.meta.url));

/** nginx running `servers` (the server blocks, given the ports they listen on) with its temp paths in `dir`. */
async function runNginx(dir: string, count: number, servers: (ports: number[]) => string): Promise<{ proc: ChildProcess; urls: string[] }> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  for (const d of ['body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) mkdirSync(`${dir}/${d}`, { recursive: true });
  writeFileSync(
    `${dir}/nginx.conf`,
    `
user root;
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  fastcgi_temp_path ${dir}/fastcgi;
  proxy_temp_path ${dir}/proxy;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 20m;
${servers(ports)}
}
`,
  );
  const proc = spawn(NGINX, ['-p', dir, '-c', `${dir}/nginx.conf`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  for (const port of ports) {
    await waitForPort(port, () =>
      proc.exitCode === null
        ? null
        : `nginx exited: ${err} ${existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : ''}`,
    );
  }
  return { proc, urls: ports.map((p) => `http://127.0.0.1:${p}`) };
}

async function startNginx(dir: string): Promise<{ proc: ChildProcess; url: string }> {
  const { proc, urls } = await runNginx(
    dir,
    1,
    ([port]) => `
  upstream warpipe { server unix:${dir}/fcgi.sock; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location /scgi/ {
      rewrite ^/scgi(/.*)$ $1 break;
      include /etc/nginx/scgi_params;
      scgi_pass unix:${dir}/scgi.sock;
    }
    location /uwsgi/ {
      rewrite ^/uwsgi(/.*)$ $1 break;
      include /etc/nginx/uwsgi_params;
      uwsgi_pass unix:${dir}/uwsgi.sock;
    }
    location /nginx-defaults/ {
      # nginx's fastcgi_params alone: the path arrives as SCRIPT_NAME, with no PATH_INFO
      rewrite ^/nginx-defaults(/.*)$ $1 break;
      include /etc/nginx/fastcgi_params;
      fastcgi_pass warpipe;
    }
    location / {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_NAME "";
      fastcgi_param PATH_INFO $uri;
      fastcgi_keep_conn on;
      fastcgi_pass warpipe;
    }
  }`,
  );
  return { proc, url: urls[0]! };
}

describe('nginx fastcgi_pass / scgi_pass / uwsgi_pass -> warpipe', () => {
  let srv: Server | null = null;
  let nginx: { proc: ChildProcess; url: string } | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-nginx-`);

  before(async () => {
    if (!existsSync(NGINX)) return;
    srv = await startServer('pep3333:application', {
      args: [
        '--http',
        '127.0.0.1:0',
        '--fastcgi',
        `unix:${dir}/fcgi.sock`,
        '--scgi',
        `unix:${dir}/scgi.sock`,
        '--uwsgi',
        `unix:${dir}/uwsgi.sock`,
      ],
    });
    nginx = await startNginx(dir);
  });
  after(async () => {
    nginx?.proc.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('the environ is what the HTTP listener gives, plus what nginx adds', async (t) => {
    if (!requirePeer(t, existsSync(NGINX), `nginx (${NGINX}; Debian package nginx-light)`)) return;
    const via = (await (await fetch(`${nginx!.url}/environ?a=1&b=%20x`, { headers: { 'X-Custom': 'yes' } })).json()) as Record<
      string,
      unknown
    >;
    for (const [k, v] of Object.entries({
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '',
      PATH_INFO: '/environ',
      QUERY_STRING: 'a=1&b=%20x',
      HTTP_X_CUSTOM: 'yes',
      'wsgi.url_scheme': 'http',
      SERVER_PROTOCOL: 'HTTP/1.1',
    })) {
      assert.equal(via[k], v, k);
    }
    assert.equal(via.REMOTE_ADDR, '127.0.0.1');
    // the same request straight to warpipe's HTTP listener would give the same CGI core
    assert.equal(typeof via['wsgi.input'], 'string');
    const defaults = (await (await fetch(`${nginx!.url}/nginx-defaults/environ`)).json()) as Record<string, unknown>;
    assert.equal(defaults.SCRIPT_NAME, '', "nginx's SCRIPT_NAME becomes PATH_INFO when it sends none");
    assert.equal(defaults.PATH_INFO, '/environ');
  });

  test('uploads, fixed and chunked, and large responses go through whole', async (t) => {
    if (!requirePeer(t, existsSync(NGINX), 'nginx')) return;
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'abc');
    const fixed = await fetch(`${nginx!.url}/echo`, { method: 'POST', body });
    assert.equal(fixed.status, 200);
    assert.ok(Buffer.from(await fixed.arrayBuffer()).equals(body));
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(Buffer.alloc(100_000, String(i)));
        c.close();
      },
    });
    const chunked = await fetch(`${nginx!.url}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 200);
    assert.equal((await chunked.arrayBuffer()).byteLength, 1_000_000);
    const big = await fetch(`${nginx!.url}/sized?5000000`);
    assert.equal((await big.arrayBuffer()).byteLength, 5_000_000);
  });

  for (const proto of ['scgi', 'uwsgi']) {
    test(`${proto}: the environ, uploads, large and streamed responses, errors`, async (t) => {
      if (!requirePeer(t, existsSync(NGINX), 'nginx')) return;
      const base = `${nginx!.url}/${proto}`;
      const env = (await (await fetch(`${base}/environ?q=%20x`, { headers: { 'X-Custom': 'yes' } })).json()) as Record<string, unknown>;
      for (const [k, v] of Object.entries({
        REQUEST_METHOD: 'GET',
        SCRIPT_NAME: '',
        PATH_INFO: '/environ',
        QUERY_STRING: 'q=%20x',
        HTTP_X_CUSTOM: 'yes',
        'wsgi.url_scheme': 'http',
      })) {
        assert.equal(env[k], v, `${proto} ${k}`);
      }
      const body = Buffer.alloc(2 * 1024 * 1024 + 5, 'xyz');
      const echo = await fetch(`${base}/echo`, { method: 'POST', body });
      assert.ok(Buffer.from(await echo.arrayBuffer()).equals(body), `${proto} echo`);
      assert.equal((await (await fetch(`${base}/sized?3000000`)).arrayBuffer()).byteLength, 3_000_000);
      assert.equal(await (await fetch(`${base}/generator`)).text(), 'part0;part1;part2;part3;part4;');
      assert.equal((await fetch(`${base}/error-before`)).status, 500);
      const many = await Promise.all(Array.from({ length: 30 }, (_, i) => fetch(`${base}/sized?${i}`).then((r) => r.status)));
      assert.deepEqual(many, Array(30).fill(200));
    });
  }

  test('errors, streamed responses and many requests over kept-alive FastCGI connections', async (t) => {
    if (!requirePeer(t, existsSync(NGINX), 'nginx')) return;
    assert.equal((await fetch(`${nginx!.url}/error-before`)).status, 500);
    assert.equal(await (await fetch(`${nginx!.url}/generator`)).text(), 'part0;part1;part2;part3;part4;');
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => fetch(`${nginx!.url}/sized?${i}`).then(async (r) => [r.status, (await r.text()).length])),
    );
    assert.deepEqual(
      statuses,
      Array.from({ length: 60 }, (_, i) => [200, i]),
    );
    assert.ok(srv!.logs().includes('listening on fastcgi unix:'));
  });
});

// The classic stack, nginx + spawn-fcgi + flup + web.py, with warpipe in flup's
// and spawn-fcgi's place: one web.py app (on Debian's python3-webpy) served
// straight over HTTP, behind nginx's fastcgi_pass and behind its uwsgi_pass,
// answering every request the same three ways.
describe('web.py three ways: direct HTTP, nginx FastCGI, nginx uwsgi', () => {
  let srv: Server | null = null;
  let nginx: { proc: ChildProcess; urls: string[] } | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-webpy-`);
  const ready = existsSync(NGINX) && pythonHas(SYSTEM_PYTHON, 'web');

  before(async () => {
    if (!ready) return;
    srv = await startServer('webpy_app:application', {
      cwd: FRAMEWORKS,
      args: ['--python', SYSTEM_PYTHON, '--fastcgi', `unix:${dir}/fcgi.sock`, '--uwsgi', `unix:${dir}/uwsgi.sock`],
    });
    nginx = await runNginx(
      dir,
      2,
      ([fcgi, uwsgi]) => `
  server {
    listen 127.0.0.1:${fcgi};
    location / {
      include /etc/nginx/fastcgi_params;
      # Debian's params send $host, without the port; web.py builds redirects from HTTP_HOST
      fastcgi_param HTTP_HOST $host:$server_port;
      fastcgi_param SCRIPT_NAME "";
      fastcgi_param PATH_INFO $uri;
      fastcgi_pass unix:${dir}/fcgi.sock;
    }
  }
  server {
    listen 127.0.0.1:${uwsgi};
    location / {
      include /etc/nginx/uwsgi_params;
      uwsgi_param HTTP_HOST $host:$server_port;
      uwsgi_pass unix:${dir}/uwsgi.sock;
    }
  }`,
    );
  });
  after(async () => {
    nginx?.proc.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  /** What a client sees of a response, with the server's own address taken out. */
  const seen = async (res: Response, base: string): Promise<unknown> => ({
    status: res.status,
    type: res.headers.get('content-type'),
    location: res.headers.get('location')?.replace(base, 'BASE') ?? null,
    cookie: res.headers.get('set-cookie'),
    body: (await res.text()).replaceAll(base, 'BASE').replaceAll(new URL(base).host, 'HOST'),
  });

  test('the same answers to the same requests, whichever way in', async (t) => {
    if (!requirePeer(t, ready, `nginx and ${SYSTEM_PYTHON} with web.py (Debian nginx-light, python3-webpy)`)) return;
    const upload = new FormData();
    upload.append('file', new Blob([Buffer.alloc(200_000, 'w')]), 'w.bin');
    const requests: [string, RequestInit][] = [
      ['/?name=<b>', {}],
      ['/json?a=1&b=%20c', { headers: { 'X-Custom': 'yes' } }],
      [
        '/form',
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `word=${encodeURIComponent('héllo wörld')}`,
        },
      ],
      ['/upload', { method: 'POST', body: upload }],
      ['/cookie', { headers: { Cookie: 'visit=41' } }],
      ['/redirect', { redirect: 'manual' }],
      ['/echo', { method: 'POST', body: Buffer.alloc(3_000_000, 'e') }],
      ['/missing', {}],
    ];
    const ways = { direct: srv!.url, fastcgi: nginx!.urls[0]!, uwsgi: nginx!.urls[1]! };
    const answers: Record<string, unknown[]> = {};
    for (const [way, base] of Object.entries(ways)) {
      answers[way] = [];
      for (const [path, init] of requests) answers[way].push(await seen(await fetch(`${base}${path}`, init), base));
    }
    assert.deepEqual(answers.fastcgi, answers.direct);
    assert.deepEqual(answers.uwsgi, answers.direct);
    // and they are the right answers
    const [hello, json, form, up, cookie, redirect, echo, missing] = answers.direct as {
      status: number;
      body: string;
      location: string | null;
      cookie: string | null;
    }[];
    assert.equal(hello!.body, '<h1>Hello &lt;b&gt;</h1>');
    assert.deepEqual(JSON.parse(json!.body), {
      framework: 'web.py',
      path: '/json',
      home: 'BASE',
      homepath: '',
      method: 'GET',
      query: '?a=1&b=%20c',
      ip: '127.0.0.1',
      protocol: 'http',
    });
    assert.equal(form!.body, 'you said héllo wörld');
    assert.deepEqual(JSON.parse(up!.body), { filename: 'w.bin', size: 200_000, head: 'wwwwwwww' });
    assert.equal(cookie!.body, 'visit 41');
    assert.match(cookie!.cookie!, /^visit=42;/);
    assert.equal(redirect!.status, 303);
    assert.equal(redirect!.location, 'BASE/json');
    assert.equal(echo!.body.length, 3_000_000);
    assert.equal(missing!.status, 404);
  });
});

describe('nginx proxy_pass -> warpipe --http --forwarded-allow-ips', () => {
  let srv: Server | null = null;
  let nginx: { proc: ChildProcess; urls: string[] } | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-proxy-`);

  before(async () => {
    if (!existsSync(NGINX)) return;
    srv = await startServer('pep3333:application', { args: ['--forwarded-allow-ips', '127.0.0.1'] });
    nginx = await runNginx(
      dir,
      1,
      ([port]) => `
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_set_header Host $host:$server_port;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_pass ${srv!.url};
    }
  }`,
    );
  });
  after(async () => {
    nginx?.proc.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  /** GET through nginx from another loopback address, so the client and the proxy differ. */
  const environFrom = (local: string, headers: Record<string, string>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const url = new URL(`${nginx!.urls[0]}/environ`);
      http
        .get({ host: url.hostname, port: url.port, path: url.pathname, localAddress: local, headers, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
        })
        .on('error', reject);
    });

  test('the app sees the client nginx saw, not nginx, and not what the client claimed', async (t) => {
    if (!requirePeer(t, existsSync(NGINX), 'nginx')) return;
    const env = await environFrom('127.0.0.2', { 'X-Forwarded-For': '6.6.6.6' });
    assert.equal(env.HTTP_X_FORWARDED_FOR, '6.6.6.6, 127.0.0.2', 'nginx appended the address it saw');
    assert.equal(env.REMOTE_ADDR, '127.0.0.2');
    assert.equal(env['wsgi.url_scheme'], 'http');
    const direct = (await (await fetch(`${srv!.url}/environ`, { headers: { 'X-Forwarded-For': '6.6.6.6' } })).json()) as Record<
      string,
      unknown
    >;
    assert.equal(direct.REMOTE_ADDR, '6.6.6.6', 'a client on a trusted address is believed too: list only your proxies');
  });
});

// docs/deploy.md "The fastest way in": proxy_pass through an upstream with keepalive, so nginx
// keeps its connections to warpipe instead of opening one per request (the snippet, with the
// test's temporary paths).
describe('nginx proxy_pass with upstream keepalive -> warpipe --http (deploy.md)', () => {
  let srv: Server | null = null;
  let nginx: { proc: ChildProcess; urls: string[] } | null = null;
  let metricsUrl = '';
  const dir = mkdtempSync(`${tmpdir()}/warpipe-kept-`);

  before(async () => {
    if (!existsSync(NGINX)) return;
    srv = await startServer('pep3333:application', {
      args: ['--http', `unix:${dir}/http.sock`, '--forwarded-allow-ips', '127.0.0.1', '--metrics', '127.0.0.1:0'],
    });
    metricsUrl = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(
      await srv.waitForLog(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/),
    )![1]!;
    nginx = await runNginx(
      dir,
      1,
      ([port]) => `
  upstream warpipe { server unix:${dir}/http.sock; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://warpipe;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host:$server_port;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }`,
    );
  });
  after(async () => {
    nginx?.proc.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('requests one after another go over one kept connection, with the client nginx saw', async (t) => {
    if (!requirePeer(t, existsSync(NGINX), 'nginx')) return;
    for (let i = 0; i < 5; i++) {
      const env = (await (await fetch(`${nginx!.urls[0]}/environ?n=${i}`)).json()) as Record<string, unknown>;
      assert.equal(env.QUERY_STRING, `n=${i}`);
      assert.equal(env.REMOTE_ADDR, '127.0.0.1', 'from X-Forwarded-For');
      assert.equal(env.SERVER_PROTOCOL, 'HTTP/1.1');
    }
    const sized = await fetch(`${nginx!.urls[0]}/sized?100000`);
    assert.equal((await sized.arrayBuffer()).byteLength, 100_000);
    // nginx keeps the one connection it used (idle in its pool); without keepalive it closes each
    const text = await (await fetch(metricsUrl)).text();
    assert.match(text, /^warpipe_connections\{listener="http"\} 1$/m);
    assert.match(text, /^warpipe_requests_total\{listener="http",code="200"\} 6$/m);
  });
});
