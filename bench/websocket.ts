// Micro-benchmark of the WebSocket codec (not a test): parse + unmask and serialize
// throughput for 16 B, 1 KiB and 64 KiB messages, word-at-a-time unmasking against a byte
// loop, the UTF-8 check against TextDecoder, and permessage-deflate's cost per KiB —
// with, for the choice deflate.ts made, one-shot synchronous zlib calls with a preset
// dictionary against a persistent zlib stream (the only persistent API Node has is async).
// Wall-clock µs per message, best of 5; CPU µs (all threads) for the async comparison.
// Run after building:  node dist/bench/websocket.js [--quick]

import { TextDecoder } from 'node:util';
import zlib from 'node:zlib';
import { type DeflateParams, PerMessageDeflate } from '../src/protocols/websocket/deflate.js';
import { FrameParser, NEED_DATA, encodeFrame, encodeMessage } from '../src/protocols/websocket/frames.js';
import { applyMask } from '../src/protocols/websocket/mask.js';
import { Utf8Validator } from '../src/protocols/websocket/utf8.js';

const quick = process.argv.includes('--quick');
const SIZES = [16, 1024, 64 * 1024];
const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const ZERO_KEY = Buffer.alloc(4);

/** Best of 5 runs of `fn` `n` times (after a warm-up run): µs per call. */
function best(n: number, fn: () => void): number {
  for (let i = 0; i < n; i++) fn();
  const out: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    out.push(Number(process.hrtime.bigint() - start) / 1000 / n);
  }
  return Math.min(...out);
}

const iterations = (size: number): number => Math.max(quick ? 200 : 2000, Math.floor((quick ? 4e6 : 4e7) / (size + 64)));
const fmt = (us: number): string => (us < 1 ? us.toFixed(3) : us < 100 ? us.toFixed(2) : us.toFixed(0));
const mbps = (size: number, us: number): string => `${(((size / us) * 1e6) / 1024 / 1024).toFixed(0)} MiB/s`;

/** JSON-ish text of `size` bytes: what an app's messages look like (compresses about 5-10x). */
function jsonText(size: number, from = 0): Buffer {
  let s = '';
  for (let i = from; s.length < size; i++) s += `{"id":${i},"user":"user${(i * 7919) % 1000}","text":"message number ${i}","ok":true},`;
  return Buffer.from(s.slice(0, size));
}

function parseBench(): void {
  console.log('parse + unmask, one single-frame client message per receive():');
  for (const size of SIZES) {
    const n = iterations(size);
    const binary = encodeFrame(0x2, jsonText(size), { mask: KEY });
    const text = encodeFrame(0x1, jsonText(size), { mask: ZERO_KEY });
    const row: string[] = [];
    for (const [name, wire] of [
      ['binary', binary],
      ['text (UTF-8 checked)', text],
    ] as const) {
      const parser = new FrameParser({ maxMessage: 1 << 20 });
      // unmasking in place flips a binary frame's payload back and forth: harmless; the text one has a zero key
      const us = best(n, () => {
        parser.receive(wire);
        const ev = parser.next();
        if (ev === NEED_DATA || ev instanceof Promise || ev.kind !== 'message') throw new Error('bench parsed the wrong thing');
      });
      row.push(`${name} ${fmt(us)} µs (${mbps(size, us)})`);
    }
    console.log(`  ${String(size).padStart(6)} B: ${row.join(', ')}`);
  }
}

function serializeBench(): void {
  console.log('serialize (server frames, unmasked; 64 KiB is [header, payload view]):');
  for (const size of SIZES) {
    const payload = jsonText(size);
    const us = best(iterations(size), () => encodeMessage(true, payload));
    console.log(`  ${String(size).padStart(6)} B: ${fmt(us)} µs`);
  }
}

function maskBench(): void {
  console.log('unmask: word at a time vs a byte loop:');
  for (const size of [1024, 64 * 1024]) {
    const data = Buffer.alloc(size, 1).subarray(1); // unaligned on purpose
    const word = best(iterations(size), () => applyMask(data, KEY, 1));
    const loop = best(iterations(size), () => {
      for (let i = 0; i < data.length; i++) data[i] = data[i]! ^ KEY[(1 + i) & 3]!;
    });
    console.log(`  ${String(size - 1).padStart(6)} B: word ${fmt(word)} µs, byte loop ${fmt(loop)} µs (${(loop / word).toFixed(1)}x)`);
  }
}

function utf8Bench(): void {
  console.log('UTF-8 check of ~64 KiB of text in 4 pieces: isUtf8 with carried tails vs TextDecoder(fatal, stream):');
  for (const [name, text] of [
    ['ASCII JSON', jsonText(65536)],
    ['mixed (é, €, 😀)', Buffer.from('héllo € wörld 😀 '.repeat(2800))],
  ] as const) {
    const pieces = [0, 1, 2, 3].map((i) => text.subarray((i * text.length) / 4, ((i + 1) * text.length) / 4));
    const ours = best(iterations(65536), () => {
      const v = new Utf8Validator();
      for (const p of pieces) v.push(p);
      v.end();
    });
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const theirs = best(iterations(65536), () => {
      for (const p of pieces) decoder.decode(p, { stream: true });
      decoder.decode();
    });
    console.log(`  ${name}: ours ${fmt(ours)} µs, TextDecoder ${fmt(theirs)} µs (${(theirs / ours).toFixed(1)}x)`);
  }
}

const params = (bits: number): DeflateParams => ({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: bits,
  clientMaxWindowBits: bits,
});

function deflateBench(): void {
  console.log('permessage-deflate, JSON-ish messages, context takeover (µs per message, µs per KiB, ratio):');
  for (const bits of [12, 15]) {
    for (const size of [128, 1024, 16 * 1024, 64 * 1024 - 1]) {
      // different messages of the same shape (one message repeated would compress to nearly nothing with context takeover)
      const messages = Array.from({ length: 16 }, (_, i) => jsonText(size, i * 1000 + 7));
      const message = messages[0]!;
      const sender = new PerMessageDeflate(params(bits), { asyncAbove: Number.POSITIVE_INFINITY });
      const n = Math.max(100, iterations(size) / 20);
      let compressed: Buffer = Buffer.alloc(0);
      let k = 0;
      const c = best(n, () => {
        compressed = sender.compress(messages[k++ & 15]!) as Buffer;
      });
      const receiver = new PerMessageDeflate(params(bits), { asyncAbove: Number.POSITIVE_INFINITY });
      const one = zlib.deflateRawSync(message, { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: bits }).subarray(0, -4);
      const d = best(n, () => receiver.decompress([one], 1 << 20));
      const kib = size / 1024;
      console.log(
        `  ${bits}-bit window, ${String(size).padStart(5)} B: compress ${fmt(c)} µs (${fmt(c / kib)}/KiB), ` +
          `inflate ${fmt(d)} µs (${fmt(d / kib)}/KiB), ratio ${(compressed.length / size).toFixed(2)}`,
      );
    }
  }
}

/** A persistent async zlib stream, one message at a time (ws's way): µs of wall and of CPU per message. */
async function streamCost(message: Buffer, n: number): Promise<{ wall: number; cpu: number }> {
  const z = zlib.createDeflateRaw({ windowBits: 12 });
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => {
      z.on('data', () => {});
      z.write(message);
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        z.removeAllListeners('data');
        resolve();
      });
    });
  }
  const wall = Number(process.hrtime.bigint() - start) / 1000 / n;
  const cpu = process.cpuUsage(cpu0);
  z.close();
  return { wall, cpu: (cpu.user + cpu.system) / n };
}

async function syncVsAsync(): Promise<void> {
  console.log('compressing one small message: one-shot sync with a dictionary (ours) vs a persistent async stream:');
  for (const size of [16, 128, 1024]) {
    const message = jsonText(size);
    const n = quick ? 300 : 3000;
    const ours = new PerMessageDeflate(params(12), { asyncAbove: Number.POSITIVE_INFINITY });
    ours.compress(jsonText(4096)); // a full window, as on a connection in use
    const cpu0 = process.cpuUsage();
    const wall = best(n, () => ours.compress(message));
    const cpu = process.cpuUsage(cpu0);
    const stream = await streamCost(message, n);
    console.log(
      `  ${String(size).padStart(5)} B: sync ${fmt(wall)} µs wall, ${fmt((cpu.user + cpu.system) / (5 * n))} µs CPU; ` +
        `async stream ${fmt(stream.wall)} µs wall, ${fmt(stream.cpu)} µs CPU`,
    );
  }
}

parseBench();
serializeBench();
maskBench();
utf8Bench();
deflateBench();
await syncVsAsync();
