// A CGI response head (RFC 3875 §6), sans-I/O: what php-fpm, fcgiwrap, an SCGI
// backend or a CGI script writes before its body; a uwsgi backend (uWSGI)
// starts it with an HTTP status line instead, which is read the same way. Header lines end
// with CRLF or LF (§6.3.4 says NL; scripts send either), the head with an
// empty line. `Status:` gives the status (§6.3.3); a `Location:` without one
// is a redirect (302, §6.2.3-4); otherwise 200 OK.

import { RemoteProtocolError, codes } from '../../errors.js';
import { NEED_DATA } from '../need-data.js';
import { reasonPhrase } from '../http1/serialize.js';

export interface CgiHead {
  status: string;
  headers: [string, string][];
}

const STATUS = /^([1-5][0-9]{2})(?: (.*))?$/;
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function bad(why: string): RemoteProtocolError {
  return new RemoteProtocolError(codes.UPSTREAM_BAD_RESPONSE, `bad CGI response head: ${why}`, 502);
}

/** Collects bytes until the head is whole; `take()` then gives it, `rest` the body bytes that came with it. */
export class CgiHeadParser {
  private parts: Buffer[] = [];
  private size = 0;
  /** The last bytes seen (at most 2), so an end of head split across reads is still found. */
  private tail: Buffer = Buffer.alloc(0);
  rest: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes = 65536) {}

  /** Each byte is looked at once, and the head joined once: a head trickled in costs linear time. */
  receive(chunk: Buffer): CgiHead | typeof NEED_DATA {
    const window = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const base = this.size - this.tail.length; // where window[0] is in the whole
    this.parts.push(chunk);
    this.size += chunk.length;
    let end = -1;
    let sep = 0;
    for (let i = window.indexOf(0x0a); i >= 0; i = window.indexOf(0x0a, i + 1)) {
      if (window[i + 1] === 0x0a) {
        end = base + i;
        sep = 2;
        break;
      }
      if (window[i + 1] === 0x0d && window[i + 2] === 0x0a) {
        end = base + i;
        sep = 3;
        break;
      }
    }
    if (end < 0) {
      if (this.size > this.maxBytes) throw bad(`no end of head within ${this.maxBytes} bytes`);
      this.tail = window.subarray(Math.max(0, window.length - 2));
      return NEED_DATA;
    }
    // the same limit when the whole head came in one read as when it came in pieces
    if (end + sep > this.maxBytes) throw bad(`no end of head within ${this.maxBytes} bytes`);
    const buf = this.parts.length === 1 ? chunk : Buffer.concat(this.parts, this.size);
    this.parts = [];
    const text = buf.toString('latin1', 0, end).replace(/\r$/, '');
    this.rest = buf.subarray(end + sep);
    return parseHead(text);
  }
}

const HTTP_STATUS_LINE = /^HTTP\/1\.[01] ([1-5][0-9]{2})(?: (.*))?$/;

function parseHead(text: string): CgiHead {
  let status: string | null = null;
  let location = false;
  let sawStatus = false;
  const headers: [string, string][] = [];
  const lines = text.split('\n');
  const first = HTTP_STATUS_LINE.exec(lines[0]!.replace(/\r$/, ''));
  if (first) {
    status = first[2] ? `${first[1]} ${first[2]}` : `${first[1]} ${reasonPhrase(Number(first[1]))}`;
    lines.shift();
  }
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad(`line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon);
    // optional whitespace is SP and HTAB only (RFC 9110 §5.6.3); any other control character is refused
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!NAME.test(name) || /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw bad(`header ${JSON.stringify(line.slice(0, 80))}`);
    if (name.toLowerCase() === 'status') {
      if (sawStatus) throw bad('more than one Status');
      sawStatus = true;
      const m = STATUS.exec(value);
      if (!m) throw bad(`Status ${JSON.stringify(value)}`);
      status = m[2] ? `${m[1]} ${m[2]}` : `${m[1]} ${reasonPhrase(Number(m[1]))}`;
      continue;
    }
    if (name.toLowerCase() === 'location') location = true;
    headers.push([name, value]);
  }
  return { status: status ?? (location ? '302 Found' : '200 OK'), headers };
}
