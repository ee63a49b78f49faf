import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addHeaders, decodePath, headerKey, splitHost, splitTarget } from './environ.js';
import type { Environ } from './types.js';

test('header names become CGI keys; unsafe ones are dropped', () => {
  assert.equal(headerKey('User-Agent'), 'HTTP_USER_AGENT');
  assert.equal(headerKey('content-type'), 'CONTENT_TYPE');
  assert.equal(headerKey('Content-Length'), 'CONTENT_LENGTH');
  assert.equal(headerKey('Proxy'), null);
  assert.equal(headerKey('X_Forwarded_For'), null);
  const env = {} as Environ;
  addHeaders(env, ['Accept', 'a', 'accept', 'b', 'Cookie', 'x=1', 'Cookie', 'y=2']);
  assert.equal(env.HTTP_ACCEPT, 'a, b');
  assert.equal(env.HTTP_COOKIE, 'x=1; y=2');
});

test('paths decode to latin-1 bytes; bad escapes and NUL are refused', () => {
  assert.equal(decodePath('/plain'), '/plain');
  assert.equal(decodePath('/a%20b%2Fc'), '/a b/c');
  assert.equal(decodePath('/caf%C3%A9'), '/caf\xc3\xa9');
  assert.throws(() => decodePath('/%zz'), { status: 400 });
  assert.throws(() => decodePath('/%4'), { status: 400 });
  assert.throws(() => decodePath('/%00'), { status: 400 });
});

test('targets: origin, absolute and asterisk forms', () => {
  assert.deepEqual(splitTarget('/a?b=1&c', 'GET'), { path: '/a', query: 'b=1&c', authority: null });
  assert.deepEqual(splitTarget('/a#frag', 'GET'), { path: '/a', query: '', authority: null });
  assert.deepEqual(splitTarget('http://h:81/p?q', 'GET'), { path: '/p', query: 'q', authority: 'h:81' });
  assert.deepEqual(splitTarget('HTTPS://h', 'GET'), { path: '/', query: '', authority: 'h' });
  assert.deepEqual(splitTarget('*', 'OPTIONS'), { path: '', query: '', authority: null });
  assert.throws(() => splitTarget('*', 'GET'), { status: 400 });
  assert.throws(() => splitTarget('h:80', 'CONNECT'), { status: 400 });
  assert.throws(() => splitTarget('http://user@h/', 'GET'), { status: 400 });
});

test('Host splits into SERVER_NAME and SERVER_PORT', () => {
  assert.deepEqual(splitHost('example.com', '80'), ['example.com', '80']);
  assert.deepEqual(splitHost('example.com:8080', '80'), ['example.com', '8080']);
  assert.deepEqual(splitHost('[::1]:9', '80'), ['[::1]', '9']);
  assert.deepEqual(splitHost('[::1]', '80'), ['[::1]', '80']);
});
