// HAProxy in front of warpipe --proxy-protocol, as a TCP load balancer sends
// the client's address: `send-proxy` (v1) and `send-proxy-v2`, each through
// HAProxy's TCP mode and its HTTP mode. The client connects from 127.0.0.2 so
// that the address the app sees can only have come from the header. Real
// HAProxy from Debian.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { requirePeer, startServer, type Server } from '../helpers/server.js';
import { freePort, waitForPort } from '../helpers/net.js';

const haveHaproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;

/** GET `path` on 127.0.0.1:`port` from 127.0.0.2; the JSON body. */
const getFrom2 = (port: number, path: string): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, localAddress: '127.0.0.2', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text) as Record<string, unknown>);
          } catch {
            reject(new Error(`status ${res.statusCode}: ${text}`));
          }
        });
      })
      .on('error', reject);
  });

describe('HAProxy send-proxy / send-proxy-v2 -> warpipe --proxy-protocol', () => {
  let srv: Server | null = null;
  let haproxy: ChildProcess | null = null;
  const fronts: Record<string, number> = {};
  const dir = mkdtempSync(`${tmpdir()}/warpipe-haproxy-`);

  before(async () => {
    if (!haveHaproxy) return;
    srv = await startServer('pep3333:application', { args: ['--proxy-protocol', '--forwarded-allow-ips', '127.0.0.1'] });
    const blocks: string[] = [];
    for (const mode of ['tcp', 'http']) {
      for (const send of ['send-proxy', 'send-proxy-v2']) {
        const name = `${mode}-${send}`;
        fronts[name] = await freePort();
        blocks.push(`
frontend f-${name}
  mode ${mode}
  bind 127.0.0.1:${fronts[name]}
  default_backend b-${name}
backend b-${name}
  mode ${mode}
  server w 127.0.0.1:${srv.port} ${send}`);
      }
    }
    writeFileSync(
      `${dir}/haproxy.cfg`,
      `global
  log stderr format raw local0 err
defaults
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${blocks.join('\n')}
`,
    );
    haproxy = spawn('haproxy', ['-db', '-f', `${dir}/haproxy.cfg`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    haproxy.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const proc = haproxy;
    for (const port of Object.values(fronts)) await waitForPort(port, () => (proc.exitCode === null ? null : `haproxy exited: ${err}`));
  });
  after(async () => {
    haproxy?.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  for (const name of ['tcp-send-proxy', 'tcp-send-proxy-v2', 'http-send-proxy', 'http-send-proxy-v2']) {
    test(`${name}: the app sees the client HAProxy saw`, async (t) => {
      if (!requirePeer(t, haveHaproxy, 'haproxy (Debian package haproxy)')) return;
      const env = await getFrom2(fronts[name]!, '/environ?x=1');
      assert.equal(env.REMOTE_ADDR, '127.0.0.2');
      assert.notEqual(env.REMOTE_PORT, String(srv!.port));
      assert.equal(env.QUERY_STRING, 'x=1');
    });
  }

  test('a client that skips HAProxy is refused: its request is no PROXY header', async (t) => {
    if (!requirePeer(t, haveHaproxy, 'haproxy')) return;
    const res = await fetch(`${srv!.url}/environ`);
    assert.equal(res.status, 400);
  });
});
