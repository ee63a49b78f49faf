// nginx in front of warpipe over FastCGI, SCGI and uwsgi (fastcgi_pass to
// --fastcgi, scgi_pass to --scgi, uwsgi_pass to --uwsgi), the classic
// nginx + spawn-fcgi + flup and nginx + uWSGI positions: the same app answers
// the same through each as through warpipe's own HTTP listener. Real nginx,
// real workers, nginx's stock *_params files.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { requirePeer, startServer, type Server } from '../helpers/server.js';

const NGINX = '/usr/sbin/nginx';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startNginx(dir: string): Promise<{ proc: ChildProcess; url: string }> {
  const fcgiSocket = `${dir}/fcgi.sock`;
  const port = await freePort();
  for (const d of ['body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) mkdirSync(`${dir}/${d}`, { recursive: true });
  writeFileSync(`${dir}/nginx.conf`, `
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
  upstream warpipe { server unix:${fcgiSocket}; keepalive 4; }
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
  }
}
`);
  const proc = spawn(NGINX, ['-p', dir, '-c', `${dir}/nginx.conf`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${err} ${existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : ''}`);
    try {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve();
        });
        s.on('error', reject);
      });
      return { proc, url };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nginx did not listen: ${err}`);
}

describe('nginx fastcgi_pass / scgi_pass / uwsgi_pass -> warpipe', () => {
  let srv: Server | null = null;
  let nginx: { proc: ChildProcess; url: string } | null = null;
  const dir = mkdtempSync(`${tmpdir()}/warpipe-nginx-`);

  before(async () => {
    if (!existsSync(NGINX)) return;
    srv = await startServer('pep3333:application', {
      args: ['--http', '127.0.0.1:0', '--fastcgi', `unix:${dir}/fcgi.sock`, '--scgi', `unix:${dir}/scgi.sock`, '--uwsgi', `unix:${dir}/uwsgi.sock`],
    });
    nginx = await startNginx(dir);
  });
  after(async () => {
    nginx?.proc.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('the environ is what the HTTP listener gives, plus what nginx adds', async (t) => {
    if (!requirePeer(t, existsSync(NGINX), `nginx (${NGINX}; Debian package nginx-light)`)) return;
    const via = (await (await fetch(`${nginx!.url}/environ?a=1&b=%20x`, { headers: { 'X-Custom': 'yes' } })).json()) as Record<string, unknown>;
    for (const [k, v] of Object.entries({ REQUEST_METHOD: 'GET', SCRIPT_NAME: '', PATH_INFO: '/environ', QUERY_STRING: 'a=1&b=%20x', HTTP_X_CUSTOM: 'yes', 'wsgi.url_scheme': 'http', SERVER_PROTOCOL: 'HTTP/1.1' })) {
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
      for (const [k, v] of Object.entries({ REQUEST_METHOD: 'GET', SCRIPT_NAME: '', PATH_INFO: '/environ', QUERY_STRING: 'q=%20x', HTTP_X_CUSTOM: 'yes', 'wsgi.url_scheme': 'http' })) {
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
    const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => fetch(`${nginx!.url}/sized?${i}`).then(async (r) => [r.status, (await r.text()).length])));
    assert.deepEqual(statuses, Array.from({ length: 60 }, (_, i) => [200, i]));
    assert.ok(srv!.logs().includes('listening on fastcgi unix:'));
  });
});
