// --forwarded-allow-ips: behind a proxy that speaks HTTP to warpipe (nginx
// proxy_pass, a load balancer), the client's address and scheme arrive in
// X-Forwarded-For and X-Forwarded-Proto. They are believed only when the
// connection comes from a listed proxy: anyone else could send them, and an
// app that trusts a forged address (rate limits, audit logs, admin-by-IP) is
// the mod_wsgi CVE-2022-2255 class. Nothing is trusted by default.
//
// From a trusted peer, X-Forwarded-For is read from the right: each address
// that is itself a listed proxy is a hop, and the first one that is not is the
// client (an address further left was written by the client and proves
// nothing). The headers stay in the environ as sent, for the app to see.

import { BlockList, isIP } from 'node:net';
import type { Environ } from './types.js';

export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly all: boolean;
  private readonly none: boolean;

  /**
   * `spec`: comma-separated addresses and CIDR ranges (`10.0.0.0/8`, `::1`), or
   * `*` for every peer; '' trusts none. Throws a one-line Error naming a bad entry.
   */
  constructor(spec: string) {
    const entries = spec
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    this.all = entries.includes('*');
    this.none = entries.length === 0;
    for (const entry of entries) {
      if (entry === '*') continue;
      const [addr, bits, extra] = entry.split('/');
      const family = isIP(addr!);
      const max = family === 4 ? 32 : 128;
      if (family === 0 || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) {
        throw new Error(`"${entry}" is not an IP address or CIDR range (like 127.0.0.1, ::1, 10.0.0.0/8 or *)`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr!, type);
      else this.list.addSubnet(addr!, Number(bits), type);
    }
  }

  trusts(address: string): boolean {
    if (this.none) return false;
    if (this.all) return true;
    const plain = unmapped(address);
    const family = isIP(plain);
    return family !== 0 && this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) as `1.2.3.4`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * For a request whose connection came from a trusted proxy: REMOTE_ADDR from
 * X-Forwarded-For, wsgi.url_scheme (and HTTPS) from X-Forwarded-Proto. A value
 * that does not parse is ignored whole, leaving what the socket said.
 * REMOTE_PORT stays the proxy's: the client's is not forwarded.
 */
export function applyForwarded(environ: Environ, trusted: TrustedProxies): void {
  const xff = environ.HTTP_X_FORWARDED_FOR;
  if (typeof xff === 'string') {
    const hops = xff.split(',').map((s) => unmapped(s.trim()));
    if (hops.every((h) => isIP(h) !== 0)) {
      let client = hops[0]!;
      for (let i = hops.length - 1; i >= 0; i--) {
        if (!trusted.trusts(hops[i]!)) {
          client = hops[i]!;
          break;
        }
      }
      environ.REMOTE_ADDR = client;
      environ.REMOTE_HOST = client;
    }
  }
  const proto = environ.HTTP_X_FORWARDED_PROTO;
  if (typeof proto === 'string') {
    // a chain of proxies may list one per hop: the last is the one nearest us
    const scheme = proto
      .slice(proto.lastIndexOf(',') + 1)
      .trim()
      .toLowerCase();
    if (scheme === 'https' || scheme === 'http') {
      environ['wsgi.url_scheme'] = scheme;
      if (scheme === 'https') environ.HTTPS = 'on';
      else delete environ.HTTPS;
      // a Host without a port means the scheme's own (PEP 3333's URL reconstruction uses SERVER_PORT)
      const host = environ.HTTP_HOST;
      if (typeof host === 'string' && !/:\d+$/.test(host)) environ.SERVER_PORT = scheme === 'https' ? '443' : '80';
    }
  }
}
