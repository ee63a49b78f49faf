// Issue 11, defect 7: under --preload, a worker that died while a child it had
// forked lived on went unnoticed until the child exited (the child holds the
// worker's channels open): its client hung, and with --timeout the gateway
// signalled the dead pid every 100 ms. Now the template, the worker's parent,
// reaps it and reports its exit; a worker whose template is gone is looked for
// in /proc. Either way its request gets 502 while the child still runs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';
import { alive, childPids as childrenOf } from '../helpers/procs.js';

describe('--preload: a worker that dies while a child it forked holds its channels', () => {
  let srv: Server;
  let dir: string;
  const orphans: number[] = [];

  before(async () => {
    dir = mkdtempSync(`${tmpdir()}/warpipe-orphan-`);
    srv = await startServer('worker_hazards:application', { args: ['--preload', '--workers', '1', '--timeout', '10'] });
  });
  after(async () => {
    for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL');
    assert.equal(await srv.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  /** GET /fork-and-die: a 502 while the child the worker forked still runs; the next request is served. */
  const forkAndDie = async (name: string): Promise<number> => {
    const worker = Number(await (await fetch(`${srv.url}/pid`)).text());
    const pidfile = `${dir}/${name}`;
    const res = await fetch(`${srv.url}/fork-and-die?${pidfile}`, { signal: AbortSignal.timeout(60_000) });
    assert.ok(existsSync(pidfile), 'the child was forked');
    const child = Number(readFileSync(pidfile, 'utf8'));
    orphans.push(child);
    assert.equal(res.status, 502, 'the death was noticed (a 504 means it waited for --timeout)');
    await res.arrayBuffer();
    assert.ok(alive(child), 'the child holding the channels still runs: the death was not noticed through them');
    const next = await fetch(`${srv.url}/pid`, { signal: AbortSignal.timeout(60_000) });
    assert.equal(next.status, 200);
    assert.notEqual(Number(await next.text()), worker, 'a new worker serves');
    return worker;
  };

  test('its template reports the exit, with its code: 502 at once, no timeout, the worker replaced', { timeout: 120_000 }, async () => {
    const worker = await forkAndDie('first');
    assert.match(srv.logs(), new RegExp(`worker ${worker} exited with code 1 while handling GET /fork-and-die`));
    assert.doesNotMatch(srv.logs(), /timed out/);
  });

  test("with its template gone, the worker's death is still noticed", { timeout: 120_000 }, async () => {
    const [template] = childrenOf(srv.proc.pid!);
    assert.ok(template, 'the template');
    process.kill(template, 'SIGKILL'); // the worker serving now was forked by it, and is left alone
    await srv.waitForLog(new RegExp(`template ${template} exited with signal SIGKILL`));
    await srv.waitForLog(/template \d+ ready .*\n(.|\n)*template \d+ ready/);
    const worker = await forkAndDie('second');
    assert.match(srv.logs(), new RegExp(`worker ${worker} exited with an unknown status \\(forked\\) while handling GET /fork-and-die`));
    assert.doesNotMatch(srv.logs(), /timed out/);
  });
});
