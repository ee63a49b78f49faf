import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMount } from './mount.js';

test('fastcgi:// defaults to the PHP split and the global document root', () => {
  assert.deepEqual(parseMount('/php=fastcgi://127.0.0.1:9000'), {
    prefix: '/php',
    protocol: 'fastcgi',
    address: { kind: 'tcp', host: '127.0.0.1', port: 9000 },
    split: 'php',
    root: null,
  });
});

test('fastcgi:// options: split and a per-mount root (percent-decoded)', () => {
  const m = parseMount('/cgi-bin=fastcgi://unix:/run/fcgiwrap.socket?split=cgi&root=/srv/my%20cgi');
  assert.deepEqual(m, {
    prefix: '/cgi-bin',
    protocol: 'fastcgi',
    address: { kind: 'unix', path: '/run/fcgiwrap.socket' },
    split: 'cgi',
    root: '/srv/my cgi',
  });
  assert.equal((parseMount('/=fastcgi://[::1]:9000?split=none') as { split: string }).split, 'none');
});

test('uwsgi:// and scgi:// take an address and nothing else', () => {
  assert.deepEqual(parseMount('/u=uwsgi://unix:/run/u.sock'), {
    prefix: '/u',
    protocol: 'uwsgi',
    address: { kind: 'unix', path: '/run/u.sock' },
  });
  assert.deepEqual(parseMount('/s=scgi://localhost:4000'), {
    prefix: '/s',
    protocol: 'scgi',
    address: { kind: 'tcp', host: 'localhost', port: 4000 },
  });
});

test('each mistake is named', () => {
  const cases: [string, RegExp][] = [
    ['php', /must look like PREFIX=/],
    ['php=fastcgi://127.0.0.1:9000', /prefix must start with \//],
    ['/x=http://127.0.0.1:80', /must be fastcgi:\/\/ADDRESS, uwsgi:\/\/ADDRESS or scgi:\/\/ADDRESS/],
    ['/x=fastcgi://', /must be fastcgi/],
    ['/x=fastcgi://127.0.0.1:99999', /port from 0 to 65535/],
    ['/x=fastcgi://127.0.0.1:9000?split=perl', /split must be php, cgi, none, got "perl"/],
    ['/x=fastcgi://127.0.0.1:9000?root=', /root needs a directory/],
    ['/x=fastcgi://127.0.0.1:9000?split=none&root=/srv', /split=none .* takes no root/],
    ['/x=fastcgi://127.0.0.1:9000?keepalive=2', /unknown option "keepalive"/],
    ['/x=fastcgi://127.0.0.1:9000?split=cgi&split=php', /"split" given twice/],
    ['/x=fastcgi://127.0.0.1:9000?root=/a%zz', /"root" has a bad %-escape/],
    ['/x=uwsgi://127.0.0.1:9000?split=cgi', /uwsgi:\/\/ takes no options/],
  ];
  for (const [raw, why] of cases) assert.throws(() => parseMount(raw), why, raw);
});
