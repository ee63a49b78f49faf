// Accept-Encoding (RFC 9110 §12.5.3), sans-I/O: which content coding, of those
// the server offers, a request asks for. Rules kept here:
//
// - The grammar is strict; a header that breaks it counts as absent (no coding),
//   never as an error: a client that cannot spell the header gets the plain body.
// - Coding names are case-insensitive; `x-gzip` is `gzip` (§8.4.1.3).
// - A coding is acceptable when listed with q > 0, or, unlisted, when `*` is
//   (q > 0). Of the acceptable ones offered, the highest q wins; among equal q,
//   the server's order.
// - `identity` competes only when it is named (or `*` stands for it): a client
//   that sends `gzip;q=0.5, identity` prefers the plain body, and gets it; on a
//   tie, the coding wins. `identity;q=0` with nothing acceptable offered still
//   gets the plain body (§12.5.3 lets the server disregard the header rather
//   than answer 406, as nginx and Apache do).
// - An absent or empty header asks for no coding (servers do not compress for
//   a client that did not say it can decode: §12.5.3 allows either).

// RFC 9110 §12.5.3: Accept-Encoding = #( codings [ weight ] )
//   codings = content-coding / "identity" / "*"        (content-coding = token)
//   weight  = OWS ";" OWS "q=" qvalue                   (§12.4.2)
//   qvalue  = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
const ELEMENT = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?:[ \t]*;[ \t]*[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?$/;

/** The longest header parsed; longer ones count as absent (no browser sends a tenth of it). */
const MAX_HEADER = 1024;

const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

/** Without the OWS (SP, HTAB) around it (String.trim would also take NBSP and line ends, which the grammar refuses). */
function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/**
 * The header's codings and their q (names lowercased, `x-gzip` as `gzip`); null when it breaks the
 * grammar. The first mention of a coding counts.
 * @example parseAcceptEncoding('gzip, br;q=0.8, *;q=0') // Map { 'gzip' => 1, 'br' => 0.8, '*' => 0 }
 */
export function parseAcceptEncoding(header: string): Map<string, number> | null {
  if (header.length > MAX_HEADER) return null;
  const weights = new Map<string, number>();
  for (const raw of header.split(',')) {
    const element = trimOws(raw);
    if (element === '') continue; // #rule: empty list elements are allowed and ignored (§5.6.1)
    const m = ELEMENT.exec(element);
    if (m === null) return null;
    let name = m[1]!.toLowerCase();
    if (name === 'x-gzip') name = 'gzip';
    if (!weights.has(name)) weights.set(name, m[2] === undefined ? 1 : Number(m[2]));
  }
  return weights;
}

/**
 * The codings of `offered` this header accepts, best first: by q, then in the server's order; none that the
 * client likes less than the plain body (an `identity` or `*` with a higher q).
 * @example rankEncodings(parseAcceptEncoding('gzip, br;q=0.5'), ['br', 'zstd', 'gzip']) // ['gzip', 'br']
 */
export function rankEncodings(weights: ReadonlyMap<string, number> | null, offered: readonly string[]): string[] {
  if (weights === null || weights.size === 0) return [];
  const star = weights.get('*');
  const identity = weights.get('identity') ?? star ?? 0;
  const ranked: [string, number][] = [];
  for (const name of offered) {
    const q = weights.get(name) ?? star ?? 0;
    if (q > 0 && q >= identity) ranked.push([name, q]);
  }
  // (Array.prototype.sort is stable: equal q keep the server's order)
  return ranked.sort((a, b) => b[1] - a[1]).map(([name]) => name);
}

/**
 * The coding to answer with, of `offered` (in the server's order of preference), for this header; null
 * for none (the plain body).
 * @example chooseEncoding(parseAcceptEncoding('gzip, deflate, br, zstd'), ['br', 'zstd', 'gzip']) // 'br'
 */
export function chooseEncoding(weights: ReadonlyMap<string, number> | null, offered: readonly string[]): string | null {
  return rankEncodings(weights, offered)[0] ?? null;
}

/**
 * `rankEncodings(parseAcceptEncoding(header), offered)`, remembered per header text: browsers send a handful
 * of distinct values, so a request usually costs one Map lookup. Bounded: when full, it starts over.
 */
export class EncodingChooser {
  private readonly seen = new Map<string, readonly string[]>();

  constructor(
    readonly offered: readonly string[],
    private readonly max = 256,
  ) {}

  /** The acceptable codings, best first (empty: the plain body). */
  rank(header: string): readonly string[] {
    const known = this.seen.get(header);
    if (known !== undefined) return known;
    const ranked = Object.freeze(rankEncodings(parseAcceptEncoding(header), this.offered));
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.set(header, ranked);
    return ranked;
  }

  /** The best acceptable coding, or null. */
  choose(header: string): string | null {
    return this.rank(header)[0] ?? null;
  }
}
