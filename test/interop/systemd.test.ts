// systemd socket activation, with systemd's own systemd-socket-activate: it
// binds the sockets, waits for the first connection, then starts warpipe with
// them as descriptors 3 and 4 (LISTEN_FDS, LISTEN_FDNAMES). That first
// connection is served; each descriptor goes to the listener it is named for;
// the workers inherit neither the sockets nor the variables.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { CLI, FIXTURES, requirePeer } from '../helpers/server.js';
import { freePort } from '../helpers/net.js';
import { encodeUwsgiHead } from '../../src/protocols/uwsgi/packet.js';

const haveActivate = spawnSync('systemd-socket-activate', ['--version'], { stdio: 'ignore' }).status === 0;

/** Socket inodes a process holds open. */
const sockets = (pid: number): Set<string> => {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:')) out.add(link);
    } catch {
      // closed meanwhile
    }
  }
  return out;
};

test(
  'socket activation: descriptors named http and uwsgi go to those listeners; ' + 'the first connection is served; workers inherit nothing',
  async (t) => {
    if (!requirePeer(t, haveActivate, 'systemd-socket-activate (Debian package systemd)')) return;
    const [httpPort, uwsgiPort] = [await freePort(), await freePort()];
    const proc = spawn(
      'systemd-socket-activate',
      [
        '-l',
        `127.0.0.1:${httpPort}`,
        '-l',
        `127.0.0.1:${uwsgiPort}`,
        '--fdname=http:uwsgi',
        process.execPath,
        CLI,
        'pep3333:application',
        '--workers',
        '1',
      ],
      { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    proc.stdout.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    try {
      for (let i = 0; i < 100 && !log.includes(`Listening on 127.0.0.1:${uwsgiPort}`); i++) await new Promise((r) => setTimeout(r, 50));
      // warpipe is not running yet: this request starts it, and is answered once the worker is up
      const env = (await (await fetch(`http://127.0.0.1:${httpPort}/osenv?LISTEN_FDS`)).json()) as Record<string, unknown>;
      assert.equal(env.value, null, 'the workers do not see LISTEN_FDS');
      assert.match(log, new RegExp(`listening on http://127\\.0\\.0\\.1:${httpPort} \\(descriptor 3 from systemd\\)`));
      assert.match(log, new RegExp(`listening on uwsgi 127\\.0\\.0\\.1:${uwsgiPort} \\(descriptor 4 from systemd\\)`));
      assert.doesNotMatch(log, /127\.0\.0\.1:8000/, 'no default listener besides the ones systemd passed');

      const uwsgiAnswer = await new Promise<string>((resolve, reject) => {
        const params: [string, string][] = [
          ['REQUEST_METHOD', 'GET'],
          ['PATH_INFO', '/sized'],
          ['QUERY_STRING', '4'],
          ['SERVER_NAME', 'x'],
          ['SERVER_PORT', '80'],
          ['SERVER_PROTOCOL', 'HTTP/1.1'],
        ];
        const sock = net.connect(uwsgiPort, '127.0.0.1', () => sock.end(encodeUwsgiHead(params)));
        let got = '';
        sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
        sock.on('error', reject);
        sock.on('close', () => resolve(got));
      });
      assert.match(uwsgiAnswer, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nssss$/);

      // the listening sockets stay with the gateway: a worker holds none of them
      const gateway = proc.pid!;
      const listening = new Set([readlinkSync(`/proc/${gateway}/fd/3`), readlinkSync(`/proc/${gateway}/fd/4`)]);
      const workers = spawnSync('pgrep', ['-P', String(gateway)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
      assert.ok(workers.length >= 1);
      for (const w of workers) for (const s of sockets(w)) assert.ok(!listening.has(s), `worker ${w} holds the listening ${s}`);
    } finally {
      proc.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  },
);

test('socket activation: a descriptor named for no listener is one line and exit 2', async (t) => {
  if (!requirePeer(t, haveActivate, 'systemd-socket-activate')) return;
  const port = await freePort();
  const proc = spawn(
    'systemd-socket-activate',
    ['-l', `127.0.0.1:${port}`, '--fdname=grpc', process.execPath, CLI, 'pep3333:application'],
    { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  for (let i = 0; i < 100 && !err.includes('Listening on'); i++) await new Promise((r) => setTimeout(r, 50));
  net
    .connect(port, '127.0.0.1')
    .on('error', () => {})
    .on('connect', function (this: net.Socket) {
      this.destroy();
    });
  assert.equal(await exited, 2);
  assert.match(
    err,
    /\nwarpipe: systemd passed descriptor 3 named "grpc": name it \(FileDescriptorName=\) one of http, fastcgi, scgi, uwsgi\n$/,
  );
});
