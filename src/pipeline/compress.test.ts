import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigCheckError, ConfigError } from '../errors.js';
import { compressible, encodedHeaders } from './compress.js';
import { Coding, defaultCodings, parseCompress } from './codings.js';
import type { Headers } from './types.js';

const H = (...pairs: [string, string][]): Headers => pairs;

test('compressible types: text, JSON, JavaScript, XML, +json/+xml, wasm, fonts not yet compressed; not the rest', () => {
  for (const yes of [
    'text/html',
    'text/html; charset=utf-8',
    'TEXT/CSS',
    'text/plain;charset=latin-1',
    'text/javascript',
    'application/json',
    'application/javascript',
    'application/xml',
    'application/wasm',
    'application/ld+json',
    'application/problem+json',
    'application/vnd.api+json; charset=utf-8',
    'image/svg+xml',
    'application/atom+xml',
    'application/x-ndjson',
    'font/ttf',
    'image/x-icon',
  ]) {
    assert.equal(compressible(yes), true, yes);
  }
  for (const no of [
    'image/png',
    'image/jpeg',
    'font/woff2',
    'application/octet-stream',
    'application/zip',
    'video/mp4',
    'text/event-stream',
    '',
  ]) {
    assert.equal(compressible(no), false, no);
  }
});

test('encodedHeaders: Content-Length dropped, ETag weakened, Vary and Content-Encoding set, the rest kept in order', () => {
  assert.deepEqual(
    encodedHeaders(
      '200 OK',
      H(['Content-Type', 'text/html'], ['Content-Length', '5000'], ['ETag', '"a"'], ['Set-Cookie', 'x=1']),
      'br',
      1024,
    ),
    [
      ['Content-Type', 'text/html'],
      ['ETag', 'W/"a"'],
      ['Set-Cookie', 'x=1'],
      ['Vary', 'Accept-Encoding'],
      ['Content-Encoding', 'br'],
    ],
  );
  assert.deepEqual(
    encodedHeaders('201 Created', H(['content-type', 'application/json'], ['vary', 'Origin'], ['etag', 'W/"b"']), 'gzip', 0),
    [
      ['content-type', 'application/json'],
      ['vary', 'Origin, Accept-Encoding'],
      ['etag', 'W/"b"'],
      ['Content-Encoding', 'gzip'],
    ],
  );
  const star = encodedHeaders('200 OK', H(['Content-Type', 'text/plain'], ['Vary', '*']), 'gzip', 0);
  assert.deepEqual(star, [
    ['Content-Type', 'text/plain'],
    ['Vary', '*'],
    ['Content-Encoding', 'gzip'],
  ]);
});

test('encodedHeaders: null for what is sent as it is', () => {
  const text: [string, string] = ['Content-Type', 'text/plain'];
  for (const [status, headers] of [
    ['204 No Content', H(text)],
    ['206 Partial Content', H(text)],
    ['304 Not Modified', H(text)],
    ['101 Switching Protocols', H(text)],
    ['200 OK', H()],
    ['200 OK', H(['Content-Type', 'image/png'])],
    ['200 OK', H(text, ['Content-Encoding', 'gzip'])],
    ['200 OK', H(text, ['Content-Range', 'bytes 0-1/2'])],
    ['200 OK', H(text, ['Cache-Control', 'max-age=60, no-transform'])],
    ['200 OK', H(text, ['Content-Length', '1023'])],
    ['bad', H(text)],
  ] as [string, Headers][]) {
    assert.equal(encodedHeaders(status, headers, 'gzip', 1024), null, `${status} ${JSON.stringify(headers)}`);
  }
  assert.notEqual(encodedHeaders('200 OK', H(text, ['Content-Length', '1024']), 'gzip', 1024), null, 'at the bound: compressed');
});

test('--compress: on, off, lists with levels; bad ones refused in one line', () => {
  assert.deepEqual(parseCompress('on', true).map(String), ['br:3', 'zstd:3', 'gzip:4']);
  assert.deepEqual(parseCompress('on', false).map(String), ['br:3', 'gzip:4'], 'no zstd on a Node without it');
  assert.deepEqual(parseCompress('off'), []);
  assert.deepEqual(parseCompress(''), []);
  assert.deepEqual(parseCompress('gzip:9, br:11', false).map(String), ['gzip:9', 'br:11']);
  assert.deepEqual(parseCompress('GZIP', false).map(String), ['gzip:4']);
  assert.deepEqual(defaultCodings(false).map(String), parseCompress('on', false).map(String));
  // whole bodies on the event loop up to about 100 µs of CPU: ~17 KiB at br:3, none at br:11
  assert.deepEqual(
    parseCompress('br,zstd,gzip', true).map((c) => c.syncMax),
    [17066, 25600, 14628],
  );
  assert.equal(new Coding('br', 11).syncMax, 102);
  for (const [bad, why] of [
    ['deflate', /list of br, zstd, gzip/],
    ['gzip:0', /gzip level must be 1 to 9, got 0/],
    ['br:12', /br level must be 0 to 11/],
    ['zstd:20', /zstd level must be 1 to 19/],
    ['gzip,gzip:3', /names gzip twice/],
    ['gzip;br', /list of br, zstd, gzip/],
    ['gzip:', /list of br, zstd, gzip/],
  ] as [string, RegExp][]) {
    assert.throws(
      () => parseCompress(bad, true),
      (err: unknown) => err instanceof ConfigError && why.test((err as Error).message),
      bad,
    );
  }
  assert.throws(
    () => parseCompress('zstd,gzip', false),
    (err: unknown) => err instanceof ConfigCheckError && /Node 22\.15/.test(String(err)),
  );
});

test('every coding round-trips, sync and async', async () => {
  const zlib = await import('node:zlib');
  const data = Buffer.from('warpipe '.repeat(5000));
  for (const c of parseCompress('on')) {
    const out = [c.compressSync(data), await c.compress(data)];
    for (const o of out) {
      assert.ok(o.length < data.length / 10, String(c));
      const back =
        c.name === 'gzip'
          ? zlib.gunzipSync(o)
          : c.name === 'br'
            ? zlib.brotliDecompressSync(o)
            : (zlib as unknown as { zstdDecompressSync(b: Buffer): Buffer }).zstdDecompressSync(o);
      assert.ok(back.equals(data), String(c));
    }
  }
});
