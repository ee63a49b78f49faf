// Real certificates for TLS tests: openssl makes a self-signed pair, and a real
// TLS client says which certificate a server presents.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import tls from 'node:tls';

export const haveOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

/** A self-signed certificate for localhost and 127.0.0.1 with common name `name`: `cert` and `key`, PEM files written by openssl. */
export function makeCertificate(cert: string, key: string, name: string): void {
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  assert.equal(r.status, 0, 'openssl req');
}

/** The common name of the certificate the TLS server on 127.0.0.1:`port` presents (verification off: it is self-signed). */
export function presentedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' }, () => {
      const cn = sock.getPeerCertificate().subject?.CN;
      sock.destroy();
      resolve(String(cn));
    });
    sock.on('error', reject);
  });
}
