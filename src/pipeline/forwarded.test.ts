import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrustedProxies, applyForwarded } from './forwarded.js';
import type { Environ } from './types.js';

const environ = (headers: Record<string, string>, host = 'example.test'): Environ => ({
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '',
  PATH_INFO: '/',
  QUERY_STRING: '',
  SERVER_NAME: 'example.test',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '10.0.0.2',
  REMOTE_HOST: '10.0.0.2',
  REMOTE_PORT: '40000',
  HTTP_HOST: host,
  'wsgi.url_scheme': 'http',
  'wsgi.input': null as never,
  'wsgi.errors': null as never,
  ...headers,
});

test('addresses, CIDR ranges (IPv4 and IPv6) and *; IPv4 peers on a dual-stack socket match their IPv4 entries', () => {
  const t = new TrustedProxies(' 127.0.0.1, 10.0.0.0/8 ,fd00::/8,::1');
  for (const yes of ['127.0.0.1', '10.1.2.3', '::ffff:10.9.9.9', 'fd12::1', '::1']) assert.equal(t.trusts(yes), true, yes);
  for (const no of ['127.0.0.2', '11.0.0.1', 'fe80::1', '::2', 'not-an-ip', '']) assert.equal(t.trusts(no), false, no);
  assert.equal(new TrustedProxies('*').trusts('198.51.100.7'), true);
  assert.equal(new TrustedProxies('').trusts('127.0.0.1'), false, 'nothing is trusted by default');
});

test('a bad entry is refused in one line naming it', () => {
  for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.0/8/1', '1.2.3', '10.0.0.0/x']) {
    assert.throws(
      () => new TrustedProxies(`127.0.0.1,${bad}`),
      new RegExp(`^Error: "${bad.replace(/[.*/]/g, '\\$&')}" is not an IP address or CIDR range`),
      bad,
    );
  }
});

test('X-Forwarded-For is read from the right: trusted hops are skipped, the first other address is the client', () => {
  const trusted = new TrustedProxies('10.0.0.0/8');
  const e = environ({ HTTP_X_FORWARDED_FOR: '6.6.6.6, 203.0.113.9, 10.0.0.7' });
  applyForwarded(e, trusted);
  assert.equal(e.REMOTE_ADDR, '203.0.113.9', 'not 6.6.6.6: the client wrote that one itself');
  assert.equal(e.REMOTE_HOST, '203.0.113.9');
  assert.equal(e.HTTP_X_FORWARDED_FOR, '6.6.6.6, 203.0.113.9, 10.0.0.7', 'the header stays for the app');
  const allHops = environ({ HTTP_X_FORWARDED_FOR: '10.0.0.9,10.0.0.8' });
  applyForwarded(allHops, trusted);
  assert.equal(allHops.REMOTE_ADDR, '10.0.0.9', 'every hop trusted: the leftmost');
});

test('a forwarded value that does not parse is ignored whole', () => {
  const trusted = new TrustedProxies('10.0.0.0/8');
  for (const xff of ['203.0.113.9:5000', 'unknown', '203.0.113.9, , 10.0.0.1', '']) {
    const e = environ({ HTTP_X_FORWARDED_FOR: xff, HTTP_X_FORWARDED_PROTO: 'gopher' });
    applyForwarded(e, trusted);
    assert.equal(e.REMOTE_ADDR, '10.0.0.2', xff);
    assert.equal(e['wsgi.url_scheme'], 'http');
  }
});

test("X-Forwarded-Proto sets wsgi.url_scheme and HTTPS; a Host without a port then means the scheme's port", () => {
  const trusted = new TrustedProxies('10.0.0.2');
  const e = environ({ HTTP_X_FORWARDED_PROTO: 'HTTPS' });
  applyForwarded(e, trusted);
  assert.equal(e['wsgi.url_scheme'], 'https');
  assert.equal(e.HTTPS, 'on');
  assert.equal(e.SERVER_PORT, '443');
  const ported = environ({ HTTP_X_FORWARDED_PROTO: 'http, https' }, 'example.test:8443');
  applyForwarded(ported, trusted);
  assert.equal(ported['wsgi.url_scheme'], 'https', 'the last of a chain: the proxy nearest us');
  assert.equal(ported.SERVER_PORT, '80', 'an explicit port in Host is left to what the listener made of it');
});
