// FastCGI request streams as the --fastcgi listener receives them (test/vectors/fastcgi/,
// made by generate.py there), through the Responder (src/protocols/fastcgi/responder.ts,
// which reads records with RecordReader and name-value pairs with decodeParams).
// Each json:
//   { why, limits?, app?, events: [...], replies: [hex of each record sent back], error: { status, code } | null }
// events: { kind: 'request', id, params, keepConn } | { kind: 'stdin', id, data } |
//         { kind: 'stdin-end', id } | { kind: 'abort', id }, in order, up to the error if any.
// The app behind the responder is simulated as the listener drives it:
//   app 'instant' (the default) answers at once: on 'stdin-end' it calls end(id, 0), on
//     'abort' end(id, 1) (the listener's finish(id, 1)); so an id is free again right after.
//   app 'busy' never answers: requests stay open until the stream ends.
// replies are the records the responder hands back, in the order it produced them:
// takeReplies() after every next(), then end()'s bytes for the event just seen.
// Fed whole, line by line, byte by byte and in random splits (feed.ts);
// FASTCGI_VECTOR_SEED replays the random splits of a failure.

import assert from 'node:assert/strict';
import { RemoteProtocolError } from '../../src/errors.js';
import { Responder, type FcgiEvent, type ResponderLimits } from '../../src/protocols/fastcgi/responder.js';
import { NEED_DATA } from '../../src/protocols/need-data.js';
import { vectorSuites } from './feed.js';

type Event =
  | { kind: 'request'; id: number; params: [string, string][]; keepConn: boolean }
  | { kind: 'stdin'; id: number; data: string }
  | { kind: 'stdin-end' | 'abort'; id: number };
interface Outcome {
  events: Event[];
  replies: string[];
  error: { status: number; code: string } | null;
}
interface Vector extends Outcome {
  why: string;
  limits?: Partial<ResponderLimits>;
  app?: 'instant' | 'busy';
}

/** What the listener passes: maxParamsBytes is --limit-request-headers (65536), maxRequests 64 (cli.ts). */
const DEFAULT_LIMITS: ResponderLimits = { maxParamsBytes: 65536, maxRequests: 64 };

/** Split reply bytes into records by their headers (not with RecordReader: this checks its counterpart). */
function recordsHex(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off < bytes.length; ) {
    assert.ok(off + 8 <= bytes.length, `reply cut inside a record header at ${off}`);
    const end = off + 8 + bytes.readUInt16BE(off + 4) + bytes[off + 6]!;
    assert.ok(end <= bytes.length, `reply cut inside a record at ${off}`);
    out.push(bytes.toString('hex', off, end));
    off = end;
  }
  return out;
}

function plain(ev: FcgiEvent): Event {
  switch (ev.kind) {
    case 'request':
      return { kind: 'request', id: ev.id, params: ev.params, keepConn: ev.keepConn };
    case 'stdin':
      return { kind: 'stdin', id: ev.id, data: ev.data.toString('latin1') };
    default:
      return { kind: ev.kind, id: ev.id };
  }
}

function run(chunks: Buffer[], vector: Vector): Outcome {
  const r = new Responder({ ...DEFAULT_LIMITS, ...vector.limits });
  const events: Event[] = [];
  const replies: Buffer[] = [];
  let error: Outcome['error'] = null;
  try {
    for (const chunk of chunks) {
      r.receive(chunk);
      for (;;) {
        const ev = r.next();
        replies.push(...r.takeReplies());
        if (ev === NEED_DATA) break;
        events.push(plain(ev));
        if ((vector.app ?? 'instant') === 'instant' && (ev.kind === 'stdin-end' || ev.kind === 'abort')) {
          replies.push(...r.end(ev.id, ev.kind === 'abort' ? 1 : 0).bytes);
        }
      }
    }
  } catch (err) {
    if (!(err instanceof RemoteProtocolError)) throw err;
    replies.push(...r.takeReplies());
    error = { status: err.status, code: err.code };
  }
  return { events, replies: recordsHex(Buffer.concat(replies)), error };
}

vectorSuites<Vector>({
  format: 'fastcgi',
  ext: 'fcgi',
  seedVar: 'FASTCGI_VECTOR_SEED',
  check({ vector, chunks, where }) {
    const want: Outcome = { events: vector.events, replies: vector.replies.map((h) => h.replace(/[\s|]/g, '')), error: vector.error };
    assert.deepEqual(run(chunks, vector), want, where);
  },
});
