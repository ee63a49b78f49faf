// HAProxy's active health checks (`option httpchk`) against warpipe --health:
// the server is UP while warpipe can serve, DOWN while it is saturated (the
// queue full), and UP again once the queue drains. Real HAProxy from Debian;
// its state is read from its stats socket (`show stat`).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer, startServer, type Server } from '../helpers/server.js';

const haveHaproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'warpipe-haproxy-health-'));
let srv: Server | null = null;
let haproxy: ChildProcess | null = null;
let haproxyErr = '';

/** The backend server's status as HAProxy sees it (UP, DOWN, "UP 1/2"...); '?' while its stats socket is not there yet. */
function serverStatus(): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(join(dir, 'admin.sock'));
    let text = '';
    sock.on('connect', () => sock.write('show stat\n'));
    sock.on('data', (d: Buffer) => (text += d.toString()));
    sock.on('error', () => resolve('?'));
    sock.on('end', () => {
      const header = text.split('\n')[0]!.replace(/^# /, '').split(',');
      const row = text.split('\n').find((l) => l.startsWith('b,w,'));
      resolve(row ? row.split(',')[header.indexOf('status')]! : '?');
    });
  });
}

/** Until HAProxy says `want` (it checks every 100 ms), within 20 s. */
async function waitForStatus(want: RegExp): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let s = await serverStatus(); !want.test(s); s = await serverStatus()) {
    if (Date.now() > deadline || haproxy?.exitCode !== null) throw new Error(`HAProxy says ${s}, not ${want}:\n${haproxyErr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  if (!haveHaproxy) return;
  srv = await startServer('probes:application', { args: ['--health', '/healthz', '--workers', '1', '--backlog', '1', '--pipeline', '0'] });
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    `global
  stats socket ${join(dir, 'admin.sock')} level admin
  log stderr format raw local0 err
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
backend b
  option httpchk GET /healthz
  http-check expect status 200
  server w 127.0.0.1:${srv.port} check inter 100ms fall 1 rise 1
`,
  );
  haproxy = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  haproxy.stderr!.on('data', (d: Buffer) => (haproxyErr += d.toString()));
});

after(async () => {
  haproxy?.kill('SIGTERM');
  if (srv) assert.equal(await srv.stop(), 0);
  rmSync(dir, { recursive: true, force: true });
});

test('HAProxy httpchk: UP while warpipe serves, DOWN while its queue is full, UP again after', async (t) => {
  if (!requirePeer(t, haveHaproxy, 'haproxy (Debian package haproxy)')) return;
  await waitForStatus(/^UP/);
  const flag = join(dir, 'release');
  const running = fetch(`${srv!.url}/block?${flag}`);
  await srv!.waitForLog(/probes: blocking until/);
  const queued = fetch(`${srv!.url}/block?${flag}`);
  await waitForStatus(/^DOWN/);
  writeFileSync(flag, '');
  assert.equal(await (await running).text(), 'released');
  assert.equal(await (await queued).text(), 'released');
  await waitForStatus(/^UP/);
});
