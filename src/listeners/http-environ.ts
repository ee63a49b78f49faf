// The environ of one HTTP/1.1 or HTTP/2 request (PEP 3333, RFC 3875 §4.1): the request's
// head, the connection's two ends, and what the listener is (TLS, software),
// with X-Forwarded-* applied only when the peer is a listed proxy.

import { addHeaders, decodePath, splitHost, splitTarget } from '../pipeline/environ.js';
import { applyForwarded, type TrustedProxies } from '../pipeline/forwarded.js';
import type { BodyInput } from '../pipeline/input.js';
import type { Environ, ErrorStream } from '../pipeline/types.js';
import type { RequestHead } from '../protocols/http1/parse.js';
import type { Http2Request } from '../protocols/http2/message.js';

/** The connection's ends: the client (or the one a PROXY header named) and our address. */
export interface Peer {
  readonly remoteAddr: string;
  readonly remotePort: string;
  readonly localName: string;
  readonly localPort: string;
  /** The peer is a --forwarded-allow-ips proxy: its X-Forwarded-* headers are believed. */
  readonly viaProxy: boolean;
}

/** A socket's own address and port, for SERVER_NAME/SERVER_PORT of a request without a host (a getsockname() each: read lazily). */
export function localEnds(socket: { readonly localAddress?: string; readonly localPort?: number }): [string, string] {
  const { localAddress, localPort } = socket;
  return [localAddress ?? 'localhost', localPort === undefined ? '' : String(localPort)];
}

/** The environ of a request refused before it was whole, for the access log: its request line, if that much was read. */
export function refusedEnviron(method: string, target: string, protocol: string): Environ {
  const partial: Partial<Environ> = { REQUEST_METHOD: method, REQUEST_URI: target, SERVER_PROTOCOL: protocol };
  return { ...partial, SCRIPT_NAME: '', PATH_INFO: '', QUERY_STRING: '' } as Environ;
}

/**
 * A socket's client, and whether it is a --forwarded-allow-ips proxy (a unix socket's peer got past its
 * --socket-mode: with --forwarded-allow-ips set, it is a proxy of ours).
 */
export function clientOf(
  socket: { readonly remoteAddress?: string; readonly remotePort?: number },
  trusted: TrustedProxies | undefined,
): { remoteAddr: string; remotePort: string; viaProxy: boolean } {
  const remoteAddr = socket.remoteAddress ?? '';
  return {
    remoteAddr,
    remotePort: socket.remotePort === undefined ? '' : String(socket.remotePort),
    viaProxy: trusted !== undefined && (socket.remoteAddress === undefined || trusted.trusts(remoteAddr)),
  };
}

export interface EnvironSource {
  readonly options: { readonly tls?: unknown; readonly serverSoftware: string; readonly trustedProxies?: TrustedProxies };
  readonly scheme: 'http' | 'https';
  readonly errors: ErrorStream;
}

export function httpEnviron(head: RequestHead, peer: Peer, listener: EnvironSource): Environ {
  return requestEnviron(head.method, head.target, head.host, head.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0', head.headers, peer, listener);
}

/** The environ of one HTTP/2 request: the same keys, SERVER_PROTOCOL `HTTP/2`. */
export function http2Environ(req: Http2Request, peer: Peer, listener: EnvironSource): Environ {
  // (wsgi.url_scheme is the listener's, or a listed proxy's X-Forwarded-Proto, as for HTTP/1.1: :scheme is the client's word)
  return requestEnviron(req.method, req.target, req.host, 'HTTP/2', req.headers, peer, listener);
}

function requestEnviron(
  method: string,
  rawTarget: string,
  hostField: string | null,
  protocol: string,
  headers: readonly string[],
  peer: Peer,
  listener: EnvironSource,
): Environ {
  const { options } = listener;
  const target = splitTarget(rawTarget, method);
  const host = target.authority ?? hostField;
  const [serverName, serverPort] = host ? splitHost(host, options.tls ? '443' : '80') : [peer.localName, peer.localPort];
  const environ: Environ = {
    REQUEST_METHOD: method,
    SCRIPT_NAME: '',
    PATH_INFO: decodePath(target.path),
    QUERY_STRING: target.query,
    REQUEST_URI: rawTarget,
    RAW_URI: rawTarget,
    SERVER_NAME: serverName,
    SERVER_PORT: serverPort,
    SERVER_PROTOCOL: protocol,
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
  addHeaders(environ, headers);
  if (options.tls) environ.HTTPS = 'on';
  if (target.authority !== null) environ.HTTP_HOST = target.authority;
  if (peer.viaProxy) applyForwarded(environ, options.trustedProxies!);
  return environ;
}
