// The HTTP/1.1 message grammar (RFC 9112, with RFC 9110 §5.6 common rules and
// RFC 3986 for hosts) as byte tables, regexes and constants, one rule per export.
//
// Rules for this file, after waitress's rfc7230.py: every constant carries the
// ABNF it implements right above it; regexes are single character classes or
// anchored sequences of them (no nested quantifiers, so no ReDoS — waitress
// CVE-2020-5236). Strings fed to them are latin-1 decoded, so charCodeAt < 256.

/** A 256-entry membership table: table[byte] === 1 when the byte is in the set. */
function byteSet(ranges: ReadonlyArray<readonly [number, number] | string>): Uint8Array {
  const table = new Uint8Array(256);
  for (const r of ranges) {
    if (typeof r === 'string') for (let i = 0; i < r.length; i++) table[r.charCodeAt(i)] = 1;
    else for (let b = r[0]; b <= r[1]; b++) table[b] = 1;
  }
  return table;
}

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

// RFC 9112 §2.1: HTTP-message = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
// The end of a head that has at least one line before the empty one.
export const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//                          "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
//                  token = 1*tchar
export const TCHAR = byteSet(["!#$%&'*+-.^_`|~", [0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]]);

// RFC 9110 §5.6.3: OWS = *( SP / HTAB ); BWS = OWS
export const WS = byteSet([' \t']);

// RFC 9110 §5.5: field-value = *field-content
//                field-vchar = VCHAR / obs-text ; obs-text = %x80-FF
// field-content allows SP / HTAB between field-vchars; anything else (NUL, CR, LF, other
// CTLs, DEL) is invalid — waitress CVE-2019-16789.
export const FIELD_VALUE_INVALID = /[^\t\x20-\x7e\x80-\xff]/;

// RFC 9112 §3.2: request-target = origin-form / absolute-form / authority-form / asterisk-form
// Checked as bytes only: no CTL, no SP; obs-text allowed (as nginx does). The form is
// left to the caller (the raw target is passed through).
export const TARGET_INVALID = /[^\x21-\x7e\x80-\xff]/;

// RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT ; HTTP-name = %s"HTTP"
// Only HTTP/1.1 and HTTP/1.0 are served; any other well-formed version is a 505.
export const HTTP_VERSION = /^HTTP\/[0-9]\.[0-9]$/;

// RFC 9112 §6.3 / RFC 9110 §8.6: Content-Length = 1*DIGIT
export const CONTENT_LENGTH = /^[0-9]+$/;

// RFC 9110 §7.2: Host = uri-host [ ":" port ]
// RFC 3986 §3.2.2: host = IP-literal / IPv4address / reg-name
//   IP-literal = "[" ( IPv6address / IPvFuture ) "]"
//   reg-name = *( unreserved / pct-encoded / sub-delims )
//   unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
//   sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
// RFC 3986 §3.2.3: port = *DIGIT
// The two host alternatives start with disjoint characters, so this is linear.
export const HOST = /^(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|[0-9A-Za-z.\-_~%!$&'()*+,;=]*)(?::[0-9]*)?$/;
// RFC 3986 §2.1: pct-encoded = "%" HEXDIG HEXDIG
export const PCT_INVALID = /%(?![0-9A-Fa-f]{2})/;

// RFC 5234 B.1: HEXDIG = DIGIT / "A" / "B" / "C" / "D" / "E" / "F" (case-insensitive, RFC 5234 §2.3)
// HEX_VALUE[byte] is the digit's value, or -1 when the byte is not a HEXDIG.
export const HEX_VALUE = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) table[0x30 + i] = i;
  for (let i = 0; i < 6; i++) table[0x41 + i] = table[0x61 + i] = 10 + i;
  return table;
})();

// RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
export const QDTEXT = byteSet([
  [0x09, 0x09],
  [0x20, 0x21],
  [0x23, 0x5b],
  [0x5d, 0x7e],
  [0x80, 0xff],
]);

// RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
export const QUOTED_PAIR = byteSet([
  [0x09, 0x09],
  [0x20, 0x7e],
  [0x80, 0xff],
]);

// RFC 9112 §7.1: chunk-size = 1*HEXDIG
// A size with more hex digits than this is refused as too large (413), before it can
// overflow; 16 digits cover any 64-bit size.
export const MAX_CHUNK_SIZE_DIGITS = 16;

// RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD
// ignore at least one empty line (CRLF) received prior to the request-line."
// More than this many is treated as garbage (400).
export const MAX_LEADING_EMPTY_LINES = 4;
