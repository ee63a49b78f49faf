// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2),
// sans-I/O: what a TCP load balancer (HAProxy `send-proxy`, AWS NLB, Google
// Cloud) writes before the client's bytes so the server learns the client's
// address. Only the header is handled here; the HTTP request follows it.
//
//   v1: "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF
//       or "PROXY UNKNOWN" [anything] CRLF; at most 107 bytes in all
//   v2: the 12-byte signature, ver_cmd (0x21 PROXY, 0x20 LOCAL), fam_proto
//       (0x11 TCP over IPv4, 0x21 over IPv6, 0x00 unspecified), a 16-bit
//       big-endian length, the addresses, then TLVs (skipped)
//
// LOCAL (the balancer's own health checks), UNKNOWN and unspecified families
// carry no client: the connection's own addresses stand.

import { isIPv4, isIPv6 } from 'node:net';
import { RemoteProtocolError, codes } from '../../errors.js';
import { NEED_DATA } from '../need-data.js';

export interface ProxyHeader {
  /** Bytes of the header; the proxied stream follows. */
  consumed: number;
  /** The client as the balancer saw it; null when the header names none (LOCAL, UNKNOWN). */
  source: { address: string; port: number } | null;
  destination: { address: string; port: number } | null;
}

export const V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX = 107;
/** Largest v2 header taken (addresses and TLVs); the 16-bit length allows 64 KiB, balancers send well under 1 KiB. */
const V2_MAX = 4096;

function bad(why: string): RemoteProtocolError {
  return new RemoteProtocolError(codes.PROXY_BAD_HEADER, `bad PROXY protocol header: ${why}`, 400);
}

/** `buf` starts with a prefix of `of` (or all of it). */
function startsLike(buf: Buffer, of: Buffer): boolean {
  const n = Math.min(buf.length, of.length);
  return buf.subarray(0, n).equals(of.subarray(0, n));
}

/** The header at the start of `buf` once it is whole; NEED_DATA before. Throws for anything else. */
export function parseProxyHeader(buf: Buffer): ProxyHeader | typeof NEED_DATA {
  if (buf.length === 0) return NEED_DATA;
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < 16 ? NEED_DATA : parseV2(buf);
  if (startsLike(buf, V1_PREFIX)) return parseV1(buf);
  throw bad('the connection does not start with one (--proxy-protocol expects every connection to)');
}

const PORT = /^(0|[1-9][0-9]{0,4})$/;

function parseV1(buf: Buffer): ProxyHeader | typeof NEED_DATA {
  const lf = buf.indexOf(0x0a);
  if (lf >= 0 && buf[lf - 1] !== 0x0d) throw bad('a line end other than CRLF');
  const end = lf - 1;
  if (end < 0) {
    if (buf.length >= V1_MAX) throw bad(`no CRLF in the first ${V1_MAX} bytes`);
    return NEED_DATA;
  }
  if (end + 2 > V1_MAX) throw bad(`longer than ${V1_MAX} bytes`);
  const line = buf.toString('latin1', 0, end);
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { consumed: end + 2, source: null, destination: null };
  if (parts.length !== 6) throw bad(`"${line}" is not PROXY TCP4|TCP6 SRC DST SPORT DPORT`);
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const valid = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : null;
  if (valid === null) throw bad(`unknown protocol ${JSON.stringify(proto)}`);
  if (!valid(src) || !valid(dst)) throw bad(`addresses ${JSON.stringify(src)} ${JSON.stringify(dst)} are not ${proto}`);
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535)
    throw bad(`ports ${JSON.stringify(sport)} ${JSON.stringify(dport)}`);
  return { consumed: end + 2, source: { address: src, port: Number(sport) }, destination: { address: dst, port: Number(dport) } };
}

function parseV2(buf: Buffer): ProxyHeader | typeof NEED_DATA {
  const verCmd = buf[12]!;
  const famProto = buf[13]!;
  const length = buf.readUInt16BE(14);
  if (verCmd >> 4 !== 2) throw bad(`version ${verCmd >> 4}`);
  const command = verCmd & 0x0f;
  if (command > 1) throw bad(`command ${command}`);
  if (16 + length > V2_MAX) throw bad(`${16 + length} bytes, over ${V2_MAX}`);
  if (buf.length < 16 + length) return NEED_DATA;
  const consumed = 16 + length;
  if (command === 0) return { consumed, source: null, destination: null }; // LOCAL
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (family === 0) return { consumed, source: null, destination: null }; // UNSPEC
  if (transport !== 1) throw bad(`transport ${transport} is not a stream`);
  const a = 16;
  if (family === 1) {
    if (length < 12) throw bad(`${length} bytes cannot hold IPv4 addresses`);
    const ip = (at: number): string => `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
    return {
      consumed,
      source: { address: ip(a), port: buf.readUInt16BE(a + 8) },
      destination: { address: ip(a + 4), port: buf.readUInt16BE(a + 10) },
    };
  }
  if (family === 2) {
    if (length < 36) throw bad(`${length} bytes cannot hold IPv6 addresses`);
    const ip = (at: number): string => compressIPv6(buf.subarray(at, at + 16));
    return {
      consumed,
      source: { address: ip(a), port: buf.readUInt16BE(a + 32) },
      destination: { address: ip(a + 16), port: buf.readUInt16BE(a + 34) },
    };
  }
  if (family === 3) return { consumed, source: null, destination: null }; // AF_UNIX: no address to give REMOTE_ADDR
  throw bad(`address family ${family}`);
}

/** RFC 5952 text of 16 address bytes: lower case, the longest run of zero groups as "::". */
function compressIPv6(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** A v1 header (what HAProxy's `send-proxy` writes). */
export function encodeProxyV1(source: { address: string; port: number }, destination: { address: string; port: number }): Buffer {
  const proto = isIPv4(source.address) ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${proto} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`, 'latin1');
}

/** A v2 PROXY header over TCP (what `send-proxy-v2` writes), with `tlvs` appended raw. */
export function encodeProxyV2(
  source: { address: string; port: number },
  destination: { address: string; port: number },
  tlvs: Buffer = Buffer.alloc(0),
): Buffer {
  const v4 = isIPv4(source.address);
  const addrBytes = (ip: string): Buffer => (v4 ? Buffer.from(ip.split('.').map(Number)) : ipv6Bytes(ip));
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(source.port, 0);
  ports.writeUInt16BE(destination.port, 2);
  const body = Buffer.concat([addrBytes(source.address), addrBytes(destination.address), ports, tlvs]);
  const head = Buffer.from([0x21, v4 ? 0x11 : 0x21, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

function ipv6Bytes(ip: string): Buffer {
  const [left, right] = ip.includes('::') ? (ip.split('::') as [string, string]) : [ip, null];
  const parse = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number]; // an IPv4 tail (::ffff:1.2.3.4)
          return [(a << 8) | b, (c << 8) | d];
        });
  const head = parse(left);
  const tail = right === null ? [] : parse(right);
  const groups = [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
