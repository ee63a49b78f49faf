// WebSocket load for the bench: runs bench/ws-client.ts (the load generator) as
// a child process, as wrk is run, and reads its summary into wrk's result shape
// (requests = echo round trips), so run.ts measures and reports it like a wrk run.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc } from './procs.js';
import type { WrkResult } from './wrk.js';

/** Starts the summary line the client prints. */
export const WS_MARK = 'WSJSON ';
const CLIENT = join(fileURLToPath(new URL('.', import.meta.url)), 'ws-client.js');

export interface WsLoadOptions {
  port: number;
  path: string;
  seconds: number;
  connections: number;
  /** offer permessage-deflate (the server decides) */
  deflate: boolean;
  /** stop after this many round trips even if time remains (default 20 million: a bound, not a target) */
  maxRoundTrips?: number;
}

export async function runWsLoad(o: WsLoadOptions): Promise<WrkResult> {
  const args = [CLIENT, String(o.port), o.path, String(o.connections), String(o.seconds), o.deflate ? '1' : '0'];
  const client = new Proc({ cmd: process.execPath, args: [...args, String(o.maxRoundTrips ?? 20_000_000)] });
  const bound = setTimeout(() => client.child.kill('SIGKILL'), (o.seconds + 15) * 1000);
  await client.finished;
  clearTimeout(bound);
  const line = client.output.split('\n').find((l) => l.startsWith(WS_MARK));
  if (!line) throw new Error(`the WebSocket client printed no summary (exit ${JSON.stringify(client.exit)}): ${client.lastLines()}`);
  const j = JSON.parse(line.slice(WS_MARK.length)) as Record<string, number>;
  const n = (k: string): number => j[k] ?? 0;
  const seconds = n('duration_us') / 1e6;
  return {
    requests: n('requests'),
    seconds,
    rps: seconds > 0 ? n('requests') / seconds : 0,
    p50ms: n('p50') / 1000,
    p99ms: n('p99') / 1000,
    maxms: n('max') / 1000,
    errors: { connect: n('connect'), read: n('read'), write: n('write'), timeout: n('timeout'), status: n('status') },
  };
}
