// Issue 14: certificate renewals under --user. certbot renews a key that only
// root may read (0600 root:root) and its hook sends SIGHUP; the gateway runs as
// --user and could not read it, so the old certificate was served until it
// expired. With --https and --user a primary keeps root (as nginx's master
// does), re-reads the pair on SIGHUP and hands it to the gateway. Real openssl
// certificates, a real TLS client, warpipe started as root with --user nobody;
// one gateway and two.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer, startServer } from '../helpers/server.js';
import { childPids } from '../helpers/procs.js';
import { haveOpenssl, makeCertificate, presentedName } from '../helpers/certs.js';

const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** certbot's way: write the new pair beside the old, 0600 root, then move both into place. */
function renew(dir: string, name: string, certFrom = name): void {
  makeCertificate(join(dir, `${name}.new.crt`), join(dir, `${name}.new.key`), name);
  chmodSync(join(dir, `${name}.new.key`), 0o600);
  renameSync(join(dir, `${certFrom}.new.crt`), join(dir, 'cert.pem'));
  renameSync(join(dir, `${name}.new.key`), join(dir, 'key.pem'));
}

for (const gateways of ['1', '2']) {
  test(`--https --user nobody --gateways ${gateways}: SIGHUP loads a renewed root-only key; a bad pair keeps the old one`, async (t) => {
    if (!requirePeer(t, haveOpenssl, 'openssl (Debian package openssl)')) return;
    if (!requirePeer(t, process.getuid!() === 0, 'root, to run as --user nobody')) return;
    const dir = mkdtempSync(join(tmpdir(), 'warpipe-renew-'));
    try {
      makeCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), 'first');
      chmodSync(join(dir, 'key.pem'), 0o600);
      chownSync(join(dir, 'key.pem'), 0, 0);
      const srv = await startServer('hello', {
        args: [
          ...['--https', '127.0.0.1:0', '--certfile', join(dir, 'cert.pem'), '--keyfile', join(dir, 'key.pem')],
          ...['--user', 'nobody', '--workers', gateways, '--gateways', gateways],
        ],
      });
      try {
        const port = Number(/listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(srv.logs())![1]);
        assert.equal(await presentedName(port), 'first');
        // the primary is root; the gateway(s) and the workers are nobody
        assert.equal(uidOf(srv.proc.pid!), 0);
        const gatewayPids = childPids(srv.proc.pid!);
        assert.equal(gatewayPids.length, Number(gateways));
        for (const pid of gatewayPids) assert.equal(uidOf(pid), 65534, `gateway ${pid} runs as nobody`);
        assert.match(srv.logs(), /the primary keeps root to re-read the certificate on SIGHUP/);

        renew(dir, 'second');
        assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
        srv.proc.kill('SIGHUP');
        await srv.waitForLog(/--https: certificate re-read from /);
        // the gateways take it over IPC, and say so
        await srv.waitForLog(new RegExp(`(--https: the certificate the primary read is in use[^]*){${gateways}}`));
        assert.equal(await presentedName(port), 'second');
        assert.doesNotMatch(srv.logs(), /--(certfile|keyfile)[^\n]*EACCES/);

        // a renewal gone wrong: a certificate whose key is not the one beside it
        makeCertificate(join(dir, 'third.new.crt'), join(dir, 'third.new.key'), 'third');
        renameSync(join(dir, 'third.new.crt'), join(dir, 'cert.pem'));
        srv.proc.kill('SIGHUP');
        await srv.waitForLog(/--certfile .*cert\.pem \/ --keyfile .*key\.pem: .*; keeping the certificate already loaded/);
        for (let i = 0; i < 5; i++) assert.equal(await presentedName(port), 'second');
        const answer = await new Promise<string>((resolve, reject) => {
          https
            .get({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => {
              let body = '';
              res.on('data', (d: Buffer) => (body += d.toString()));
              res.on('end', () => resolve(body));
            })
            .on('error', reject);
        });
        assert.equal(answer, 'Hello, world!');
      } finally {
        assert.equal(await srv.stop(), 0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
