// The environ of one HTTP/1.1 request (PEP 3333, RFC 3875 §4.1): the request's
// head, the connection's two ends, and what the listener is (TLS, software),
// with X-Forwarded-* applied only when the peer is a listed proxy.

import { addHeaders, decodePath, splitHost, splitTarget } from '../pipeline/environ.js';
import { applyForwarded, type TrustedProxies } from '../pipeline/forwarded.js';
import type { BodyInput } from '../pipeline/input.js';
import type { Environ, ErrorStream } from '../pipeline/types.js';
import type { RequestHead } from '../protocols/http1/parse.js';

/** The connection's ends: the client (or the one a PROXY header named) and our address. */
export interface Peer {
  readonly remoteAddr: string;
  readonly remotePort: string;
  readonly localName: string;
  readonly localPort: string;
  /** The peer is a --forwarded-allow-ips proxy: its X-Forwarded-* headers are believed. */
  readonly viaProxy: boolean;
}

export interface EnvironSource {
  readonly options: { readonly tls?: unknown; readonly serverSoftware: string; readonly trustedProxies?: TrustedProxies };
  readonly scheme: 'http' | 'https';
  readonly errors: ErrorStream;
}

export function httpEnviron(head: RequestHead, peer: Peer, listener: EnvironSource): Environ {
  const { options } = listener;
  const target = splitTarget(head.target, head.method);
  const host = target.authority ?? head.host;
  const [serverName, serverPort] = host ? splitHost(host, options.tls ? '443' : '80') : [peer.localName, peer.localPort];
  const environ: Environ = {
    REQUEST_METHOD: head.method,
    SCRIPT_NAME: '',
    PATH_INFO: decodePath(target.path),
    QUERY_STRING: target.query,
    REQUEST_URI: head.target,
    RAW_URI: head.target,
    SERVER_NAME: serverName,
    SERVER_PORT: serverPort,
    SERVER_PROTOCOL: head.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
    REMOTE_ADDR: peer.remoteAddr,
    // RFC 3875 §4.1.9: without a reverse lookup per request, the address stands in for the name
    REMOTE_HOST: peer.remoteAddr,
    REMOTE_PORT: peer.remotePort,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: options.serverSoftware,
    'wsgi.url_scheme': listener.scheme,
    'wsgi.input': null as unknown as BodyInput, // set at dispatch
    'wsgi.errors': listener.errors,
  };
  addHeaders(environ, head.headers);
  if (options.tls) environ.HTTPS = 'on';
  if (target.authority !== null) environ.HTTP_HOST = target.authority;
  if (peer.viaProxy) applyForwarded(environ, options.trustedProxies!);
  return environ;
}
