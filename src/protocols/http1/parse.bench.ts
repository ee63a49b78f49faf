// Micro-benchmark for the request parser (not a test): parses a typical ~400-byte
// browser GET (8 fields) many times and prints ns/request, wall clock, best of 5.
// Run after building:  node dist/src/protocols/http1/parse.bench.js [iterations]

import { NEED_DATA, RequestParser } from './parse.js';

const request = Buffer.from(
  'GET /static/app/index.html?page=2 HTTP/1.1\r\n' +
    'Host: www.example.com\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n' +
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n' +
    'Accept-Language: en-US,en;q=0.5\r\n' +
    'Accept-Encoding: gzip, deflate, br, zstd\r\n' +
    'Connection: keep-alive\r\n' +
    'Cookie: session=4f1c2a9be07d4e55\r\n' +
    'Upgrade-Insecure-Requests: 1\r\n' +
    '\r\n',
  'latin1',
);

function run(iterations: number): number {
  const parser = new RequestParser();
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    parser.receive(request);
    for (;;) {
      const event = parser.next();
      if (event === NEED_DATA) break;
      if (event.kind === 'request') sink += event.headers.length;
    }
  }
  const ns = Number(process.hrtime.bigint() - start);
  if (sink !== iterations * 16) throw new Error('benchmark parsed the wrong thing');
  return ns / iterations;
}

const iterations = Number(process.argv[2] ?? 1e6);
run(Math.min(iterations, 1e5)); // warm up
const results = [run(iterations), run(iterations), run(iterations), run(iterations), run(iterations)];
console.log(`request bytes: ${request.length}`);
console.log(`ns/request: ${results.map((r) => r.toFixed(0)).join(' ')} (best ${Math.min(...results).toFixed(0)})`);
