// CGI response heads (test/vectors/cgi/, made by generate.py there) through
// CgiHeadParser as UpstreamReply uses it (src/apps/feed.ts): chunks go to the
// parser until it gives the head; its `rest` and every later chunk are the body.
// Each json:
//   valid:   { why, maxBytes?, head: { status, headers, rest } | null }   (null: not whole yet)
//   invalid: { why, maxBytes?, status, code }
// Fed whole, line by line, byte by byte and in random splits (feed.ts);
// CGI_VECTOR_SEED replays the random splits of a failure.

import assert from 'node:assert/strict';
import { RemoteProtocolError } from '../../src/errors.js';
import { CgiHeadParser } from '../../src/protocols/cgi/response.js';
import { NEED_DATA } from '../../src/protocols/need-data.js';
import { vectorSuites } from './feed.js';

interface Head {
  status: string;
  headers: [string, string][];
  rest: string;
}
interface Vector {
  why: string;
  maxBytes?: number;
  head?: Head | null;
  status?: number;
  code?: string;
}
type Outcome = { head: Head | null } | { status: number; code: string };

vectorSuites<Vector>({
  format: 'cgi',
  ext: 'cgi',
  seedVar: 'CGI_VECTOR_SEED',
  check({ kind, vector, chunks, where }) {
    const parser = vector.maxBytes === undefined ? new CgiHeadParser() : new CgiHeadParser(vector.maxBytes);
    let got: Outcome = { head: null };
    let head: { status: string; headers: [string, string][] } | null = null;
    const rest: Buffer[] = [];
    try {
      for (const chunk of chunks) {
        if (head !== null) {
          rest.push(chunk);
          continue;
        }
        const h = parser.receive(chunk);
        if (h === NEED_DATA) continue;
        head = h;
        rest.push(parser.rest);
      }
      if (head !== null) got = { head: { ...head, rest: Buffer.concat(rest).toString('latin1') } };
    } catch (err) {
      if (!(err instanceof RemoteProtocolError)) throw err;
      got = { status: err.status, code: err.code };
    }
    const want: Outcome = kind === 'valid' ? { head: vector.head ?? null } : { status: vector.status!, code: vector.code! };
    assert.deepEqual(got, want, where);
  },
});
