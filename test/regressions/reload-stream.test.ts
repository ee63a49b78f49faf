// Issue 11, defect 8: a reload truncated streamed responses. A retiring worker
// that had written the end of its response exited while the gateway, held back
// by a slow client, had not read it all from the worker's channel yet; what
// was still in the channel was lost (no terminating chunk). Now the worker
// exits only once the gateway has read its channel to the end.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, type Server } from '../helpers/server.js';

const SIZE = 16 << 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A client that reads its socket only when told to: stalled, slowly, or as fast as it can. */
class Reader {
  readonly sock: net.Socket;
  private chunks: Buffer[] = [];
  private bytes = 0;
  closed = false;
  private wake: (() => void) | null = null;

  constructor(path: string, request: string) {
    this.sock = net.connect(path, () => this.sock.write(request));
    this.sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.bytes += d.length;
      this.sock.pause();
      this.signal();
    });
    const end = (): void => {
      this.closed = true;
      this.signal();
    };
    this.sock.on('end', end);
    this.sock.on('close', end);
    this.sock.on('error', () => {});
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  get received(): number {
    return this.bytes;
  }

  /** Take one more chunk (resolves when it came, or the connection ended). */
  async one(): Promise<void> {
    if (this.closed) return;
    const got = new Promise<void>((r) => (this.wake = r));
    this.sock.resume();
    await got;
  }

  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Body bytes of a chunked response and whether its last chunk came, from the raw bytes. */
function dechunk(raw: Buffer): { head: string; body: number; complete: boolean } {
  const headEnd = raw.indexOf('\r\n\r\n');
  assert.ok(headEnd > 0, 'a response head');
  const head = raw.toString('latin1', 0, headEnd);
  let off = headEnd + 4;
  let body = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', off);
    if (eol < 0) return { head, body, complete: false };
    const size = parseInt(raw.toString('latin1', off, eol), 16);
    if (size === 0) return { head, body, complete: raw.length >= eol + 4 && raw.toString('latin1', eol, eol + 4) === '\r\n\r\n' };
    if (raw.length < eol + 2 + size + 2) return { head, body: body + Math.max(0, raw.length - eol - 2), complete: false };
    body += size;
    off = eol + 2 + size + 2;
  }
}

for (const mode of [[], ['--preload']]) {
  describe(`a reload while a slow client reads a streamed response${mode.length ? ' (--preload)' : ''}`, () => {
    let srv: Server;
    const dir = mkdtempSync(`${tmpdir()}/warpipe-reload-stream-`);
    after(async () => {
      assert.equal(await srv.stop(), 0, `the gateway did not exit 0 on SIGTERM; its log ends:\n${srv.logs().slice(-4000)}`);
      rmSync(dir, { recursive: true, force: true });
    });

    test("the retiring worker's response arrives whole, with its terminating chunk", { timeout: 180_000 }, async () => {
      // the client on a unix socket: its buffers are a fixed ~200 KiB (TCP's grow as the client reads), so
      // a stalled client stalls the whole path back to the worker
      const sock = `${dir}/http.sock`;
      const args = ['--workers', '1', '--buffer-response', '65536', '--http', `unix:${sock}`, ...mode];
      srv = await startServer('worker_hazards:application', { args });
      for (let round = 1; round <= 3; round++) {
        const pid = Number(await (await fetch(`${srv.url}/pid`)).text());
        const r = new Reader(sock, `GET /stream?${SIZE} HTTP/1.1\r\nHost: test\r\n\r\n`);
        await r.one(); // the head and the first bytes: the response is under way
        // stalled client: the worker is held back; meanwhile the reload retires it
        srv.proc.kill('SIGHUP');
        await srv.waitForLog(new RegExp(`reload: generation ${round} serving`), 60_000);
        await srv.waitForLog(new RegExp(`worker ${pid} retiring \\(reload\\)`));
        // read slowly until the worker has sent its last block: the path is full all along, so the
        // gateway is holding back the worker's channel, which holds the end of the response
        const sent = new RegExp(`stream sent by ${pid}\\b`);
        while (!sent.test(srv.logs()) && !r.closed) {
          await r.one();
          await sleep(5);
        }
        // give a worker that would exit now the time to do so (it must not: its channel holds the rest)
        const exited = new RegExp(`worker ${pid} exited`);
        for (let i = 0; i < 20 && !exited.test(srv.logs()); i++) await sleep(50);
        while (!r.closed && !dechunk(r.data).complete) await r.one();
        const { head, body, complete } = dechunk(r.data);
        assert.match(head, /^HTTP\/1\.1 200 /);
        assert.match(head, /transfer-encoding: chunked/i);
        assert.equal(body, SIZE, `round ${round}: every byte (got ${body} of ${SIZE})`);
        assert.ok(complete, `round ${round}: the terminating chunk came`);
        r.sock.destroy();
        await srv.waitForLog(new RegExp(`worker ${pid} exited .*after retiring \\(reload\\)`));
        assert.doesNotMatch(srv.logs(), /exited with .* while handling/);
      }
    });
  });
}
