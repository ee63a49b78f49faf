import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EncodingChooser, chooseEncoding, parseAcceptEncoding, rankEncodings } from './accept-encoding.js';

const OFFERED = ['br', 'zstd', 'gzip'] as const;
const choose = (header: string, offered: readonly string[] = OFFERED): string | null =>
  chooseEncoding(parseAcceptEncoding(header), offered);

test('what browsers and tools send', () => {
  assert.equal(choose('gzip, deflate, br, zstd'), 'br', 'Chrome 123+: equal q, the server order');
  assert.equal(choose('gzip, deflate, br'), 'br', 'Firefox, Safari');
  assert.equal(choose('gzip, deflate'), 'gzip', "Node's fetch (undici)");
  assert.equal(choose('deflate, gzip'), 'gzip', 'curl --compressed built without brotli');
  assert.equal(choose('gzip, deflate, br, zstd', ['gzip']), 'gzip', 'only gzip offered');
  assert.equal(choose('deflate'), null, 'nothing offered is accepted');
  assert.equal(choose(''), null, 'empty: no coding wanted (RFC 9110 §12.5.3)');
  assert.equal(choose('identity'), null);
});

test('q-values: the highest wins; 0 refuses; identity competes only when named', () => {
  assert.equal(choose('br;q=0.5, gzip'), 'gzip');
  assert.equal(choose('br;q=0.9, gzip;q=0.9'), 'br', 'a tie: the server order');
  assert.equal(choose('gzip;q=0.8, br;q=0.81'), 'br');
  assert.equal(choose('br;q=0, gzip;q=0.001'), 'gzip');
  assert.equal(choose('br;q=0, gzip;q=0'), null);
  assert.equal(choose('gzip;q=0.5'), 'gzip', 'an unnamed identity does not compete');
  assert.equal(choose('gzip;q=0.5, identity'), null, 'the client prefers the plain body');
  assert.equal(choose('gzip;q=0.5, identity;q=0.5'), 'gzip', 'a tie with identity: the coding');
  assert.equal(choose('identity;q=0, gzip;q=0.2'), 'gzip');
  assert.equal(choose('identity;q=0, deflate'), null, 'nothing acceptable offered: the plain body all the same');
  assert.equal(choose('gzip;q=1.000, br;q=0.999'), 'gzip');
  assert.equal(choose('gzip;q=1, br;q=0.'), 'gzip', '"0." is a qvalue');
});

test('*: stands for every coding not named', () => {
  assert.equal(choose('*'), 'br');
  assert.equal(choose('br;q=0, *'), 'zstd');
  assert.equal(choose('*;q=0.5, gzip'), 'gzip');
  assert.equal(choose('*;q=0'), null);
  assert.equal(choose('*;q=0, gzip'), 'gzip');
  assert.equal(choose('*;q=0.3, identity;q=0.5'), null, 'identity named above the rest');
});

test('case, whitespace, x-gzip, empty elements', () => {
  assert.equal(choose('GZIP'), 'gzip');
  assert.equal(choose('Br;Q=0.4, gzip;q=0.2'), 'br');
  assert.equal(choose('x-gzip'), 'gzip', 'RFC 9110 §8.4.1.3');
  assert.equal(choose(' \tgzip \t; \tq=0.5 \t, br;q=0.4'), 'gzip');
  assert.equal(choose(',, gzip ,,'), 'gzip', 'empty list elements are ignored (§5.6.1)');
  assert.deepEqual(rankEncodings(parseAcceptEncoding('gzip;q=0.2, zstd;q=0.4, br'), OFFERED), ['br', 'zstd', 'gzip']);
  assert.deepEqual(rankEncodings(parseAcceptEncoding('gzip, br;q=0.5, identity;q=0.7'), OFFERED), ['gzip']);
});

test('a header that breaks the grammar counts as absent', () => {
  for (const bad of [
    'gzip;q=2',
    'gzip;q=1.5',
    'gzip;q=0.1234',
    'gzip;q=',
    'gzip;q',
    'gzip;level=1',
    'gzip q=1',
    'gzip;q=.5',
    'gzip;;q=1',
    'gzip, br;q=0.5;q=0.4',
    'gz ip',
    'gzip\u00a0',
    '"gzip"',
    'gzip;q=-1',
    'gzip, ' + 'x'.repeat(2000),
  ]) {
    assert.equal(parseAcceptEncoding(bad), null, JSON.stringify(bad));
    assert.equal(choose(bad), null, JSON.stringify(bad));
  }
});

test('the chooser remembers per header text, bounded', () => {
  const c = new EncodingChooser(['gzip', 'br'], 4);
  assert.equal(c.choose('br, gzip'), 'gzip');
  assert.equal(c.choose('br, gzip'), 'gzip');
  for (let i = 0; i < 10; i++) assert.equal(c.choose(`br;q=0.${i}, gzip;q=0.05`), i === 0 ? 'gzip' : 'br');
  assert.deepEqual(c.rank('gzip;q=0.1, br'), ['br', 'gzip']);
});

// A model of a valid header: distinct codings, each with a q in thousandths (or none), written in any case
// with any OWS; what the server answers follows from the model alone.
const coding = fc.constantFrom('gzip', 'br', 'zstd', 'deflate', 'compress', 'identity', '*', 'x-custom');
const weight = fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined });
const ows = fc.constantFrom('', ' ', '\t', '  ', ' \t');
const model = fc.uniqueArray(fc.tuple(coding, weight), { selector: ([c]) => c, maxLength: 8 });

const qText = (q: number): string => (q === 1000 ? '1.0' : `0.${String(q).padStart(3, '0')}`);

function expected(entries: [string, number | undefined][], offered: readonly string[]): string | null {
  const q = new Map(entries.map(([c, w]) => [c, (w ?? 1000) / 1000]));
  const star = q.get('*');
  const identity = q.get('identity') ?? star ?? 0;
  let best: string | null = null;
  let bestQ = 0;
  for (const name of offered) {
    const w = q.get(name) ?? star ?? 0;
    if (w > bestQ) [best, bestQ] = [name, w];
  }
  return best !== null && bestQ >= identity ? best : null;
}

test('property: any valid header gets the answer of the model, whatever its case and whitespace', () => {
  fc.assert(
    fc.property(model, fc.array(fc.tuple(ows, ows, ows, fc.boolean())), (entries, style) => {
      const header = entries
        .map(([c, w], i) => {
          const [a, b, d, upper] = style[i % Math.max(style.length, 1)] ?? ['', '', '', false];
          const name = upper ? c.toUpperCase() : c;
          return w === undefined ? `${a}${name}${b}` : `${a}${name}${b};${d}${upper ? 'Q' : 'q'}=${qText(w)}${a}`;
        })
        .join(',');
      assert.equal(choose(header), expected(entries, OFFERED), header);
    }),
    { numRuns: 2000 },
  );
});

test('property: the answer does not depend on the order of a valid header', () => {
  fc.assert(
    fc.property(
      model.chain((entries) => fc.tuple(fc.constant(entries), fc.shuffledSubarray(entries, { minLength: entries.length }))),
      ([entries, shuffled]) => {
        const text = (list: [string, number | undefined][]): string =>
          list.map(([c, w]) => (w === undefined ? c : `${c};q=${qText(w)}`)).join(', ');
        assert.equal(choose(text(shuffled)), choose(text(entries)));
      },
    ),
    { numRuns: 1000 },
  );
});

test('property: any string at all: no throw, and the answer is one of those offered or null', () => {
  const anyHeader = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: fc.constantFrom('g', 'z', 'i', 'p', ',', ';', 'q', '=', '0', '1', '.', ' ', '\t', '*', 'b', 'r'), maxLength: 60 }),
  );
  fc.assert(
    fc.property(anyHeader, (header) => {
      const got = choose(header);
      assert.ok(got === null || OFFERED.includes(got as never), `${JSON.stringify(header)} -> ${got}`);
    }),
    { numRuns: 3000 },
  );
});
