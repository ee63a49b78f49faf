// The Sec-WebSocket-Extensions header (RFC 6455 §9.1), read into offers:
//
//   Sec-WebSocket-Extensions = extension-list
//   extension-list = 1#extension
//   extension = extension-token *( ";" extension-param )
//   extension-token = registered-token
//   registered-token = token
//   extension-param = token [ "=" (token | quoted-string) ]
//       ; When using the quoted-string syntax variant, the value
//       ; after quoted-string unescaping MUST conform to the
//       ; 'token' ABNF.
//
// with RFC 9110's list rules (OWS around the separators, empty list elements
// ignored). Several header lines are one list, in order. What an extension's
// parameters mean is for the extension (deflate.ts); here only the grammar.

/** One offered extension: its name (lower-cased) and its parameters in order (names lower-cased; null: no value). */
export interface ExtensionOffer {
  name: string;
  params: [string, string | null][];
}

// RFC 9110 §5.6.2: token = 1*tchar
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** A small cursor over one header value. */
class Cursor {
  i = 0;
  constructor(readonly s: string) {}
  ows(): void {
    while (this.i < this.s.length && (this.s[this.i] === ' ' || this.s[this.i] === '\t')) this.i++;
  }
  peek(): string | undefined {
    return this.s[this.i];
  }
  token(): string | null {
    const start = this.i;
    while (this.i < this.s.length && TCHAR.test(this.s[this.i]!)) this.i++;
    return this.i > start ? this.s.slice(start, this.i) : null;
  }
  /** RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; null when unterminated. */
  quoted(): string | null {
    let out = '';
    for (this.i++; this.i < this.s.length; this.i++) {
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '\\') {
        this.i++;
        if (this.i >= this.s.length) return null;
        out += this.s[this.i];
      } else {
        out += c;
      }
    }
    return null;
  }
}

/** One extension-param after its ";": [name, value], or null on a grammar error. */
function readParam(c: Cursor): [string, string | null] | null {
  c.ows();
  const name = c.token();
  if (name === null) return null;
  c.ows();
  if (c.peek() !== '=') return [name.toLowerCase(), null];
  c.i++;
  c.ows();
  const value = c.peek() === '"' ? c.quoted() : c.token();
  if (value === null || !TOKEN.test(value)) return null;
  return [name.toLowerCase(), value];
}

/**
 * Every Sec-WebSocket-Extensions header value, as one list of offers in order;
 * null when one breaks the grammar (the handshake answers 400).
 * @example
 * parseExtensions(['permessage-deflate; client_max_window_bits, x-foo'])
 * // [{ name: 'permessage-deflate', params: [['client_max_window_bits', null]] }, { name: 'x-foo', params: [] }]
 */
export function parseExtensions(values: readonly string[]): ExtensionOffer[] | null {
  const offers: ExtensionOffer[] = [];
  for (const value of values) {
    const c = new Cursor(value);
    for (;;) {
      c.ows();
      if (c.i >= value.length) break;
      if (c.peek() === ',') {
        c.i++;
        continue;
      }
      const name = c.token();
      if (name === null) return null;
      const offer: ExtensionOffer = { name: name.toLowerCase(), params: [] };
      c.ows();
      while (c.peek() === ';') {
        c.i++;
        const param = readParam(c);
        if (param === null) return null;
        offer.params.push(param);
        c.ows();
      }
      if (c.i < value.length && c.peek() !== ',') return null;
      offers.push(offer);
    }
  }
  return offers;
}
