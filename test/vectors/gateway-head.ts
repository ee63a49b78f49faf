// The runner shared by the SCGI and uwsgi vectors: both are a head (parsed by a
// function of the whole buffer received so far, as stream-gateway.ts calls it)
// followed by the body. Each json:
//   valid:   { why, maxBytes?, head: { params, consumed } | null }   (null: not whole yet)
//   invalid: { why, maxBytes?, status, code }

import assert from 'node:assert/strict';
import { RemoteProtocolError } from '../../src/errors.js';
import { NEED_DATA } from '../../src/protocols/need-data.js';
import type { GatewayHead } from '../../src/protocols/scgi/netstring.js';
import { vectorSuites } from './feed.js';

interface Vector {
  why: string;
  maxBytes?: number;
  head?: GatewayHead | null;
  status?: number;
  code?: string;
}

type Outcome = { head: GatewayHead | null } | { status: number; code: string };

/** 65536: --limit-request-headers by default, which the listeners pass as the head limit. */
export const DEFAULT_MAX_BYTES = 65536;

export function gatewayHeadSuites(
  format: string,
  ext: string,
  seedVar: string,
  parse: (buf: Buffer, maxBytes: number) => GatewayHead | typeof NEED_DATA,
): void {
  vectorSuites<Vector>({
    format,
    ext,
    seedVar,
    check({ kind, vector, chunks, where }) {
      const maxBytes = vector.maxBytes ?? DEFAULT_MAX_BYTES;
      let buf = Buffer.alloc(0);
      let got: Outcome = { head: null };
      for (const chunk of chunks) {
        buf = Buffer.concat([buf, chunk]);
        try {
          const head = parse(buf, maxBytes);
          if (head === NEED_DATA) continue;
          got = { head };
        } catch (err) {
          if (!(err instanceof RemoteProtocolError)) throw err;
          got = { status: err.status, code: err.code };
        }
        break;
      }
      const want: Outcome = kind === 'valid' ? { head: vector.head ?? null } : { status: vector.status!, code: vector.code! };
      assert.deepEqual(got, want, where);
    },
  });
}
