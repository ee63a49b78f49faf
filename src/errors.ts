// Every error warpipe raises, in one catalogue. Each carries a stable `code`
// (ERR_*), the HTTP `status` a listener answers with when the error reaches it,
// and an optional `cause`.
//
// Two families, after h11: RemoteProtocolError means the peer broke the wire
// (answer `status`, close the connection); LocalProtocolError means we were
// about to break it ourselves (a bug, or an app handing us bad headers).

export class GatewayError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 500, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.name = new.target.name;
  }
}

/** The client (or an upstream peer) sent bytes that break its protocol. */
export class RemoteProtocolError extends GatewayError {}

/** We, or the application behind us, were about to send something invalid. */
export class LocalProtocolError extends GatewayError {}

/** A bad command line, environment variable or config value: one line, exit 2 (pointing at --help). */
export class ConfigError extends GatewayError {
  constructor(message: string, options?: ErrorOptions, code = 'ERR_CONFIG') {
    super(code, message, 500, options);
  }
}

/**
 * A well-formed setting this machine cannot honour (no such directory, file,
 * user or interpreter): one line, exit 2; --help would not help.
 */
export class ConfigCheckError extends ConfigError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options, 'ERR_CONFIG_CHECK');
  }
}

/** The gateway could not start: a socket it cannot bind, a user it cannot become. One line, exit 1. */
export class StartError extends GatewayError {}

/** A worker process broke, died, timed out or could not start. */
export class WorkerError extends GatewayError {}

/** No worker can take the request soon enough: 503, with the seconds to wait in Retry-After. */
export class OverloadError extends GatewayError {
  constructor(
    message: string,
    readonly retryAfter: number,
  ) {
    super('ERR_QUEUE_FULL', message, 503);
  }
}

// Stable codes, grouped by where they arise. Keep this list in sync with docs/security.md.
export const codes = {
  // HTTP/1.1 request parsing (RFC 9112)
  BAD_REQUEST_LINE: 'ERR_HTTP_BAD_REQUEST_LINE',
  BAD_VERSION: 'ERR_HTTP_BAD_VERSION',
  UNSUPPORTED_VERSION: 'ERR_HTTP_UNSUPPORTED_VERSION',
  BAD_TARGET: 'ERR_HTTP_BAD_TARGET',
  URI_TOO_LONG: 'ERR_HTTP_URI_TOO_LONG',
  BAD_HEADER: 'ERR_HTTP_BAD_HEADER',
  BARE_LF: 'ERR_HTTP_BARE_LF',
  BARE_CR: 'ERR_HTTP_BARE_CR',
  HEADERS_TOO_LARGE: 'ERR_HTTP_HEADERS_TOO_LARGE',
  TOO_MANY_HEADERS: 'ERR_HTTP_TOO_MANY_HEADERS',
  BAD_HOST: 'ERR_HTTP_BAD_HOST',
  BAD_CONTENT_LENGTH: 'ERR_HTTP_BAD_CONTENT_LENGTH',
  CL_AND_TE: 'ERR_HTTP_CL_AND_TE',
  BAD_TRANSFER_ENCODING: 'ERR_HTTP_BAD_TRANSFER_ENCODING',
  UNKNOWN_TRANSFER_CODING: 'ERR_HTTP_UNKNOWN_TRANSFER_CODING',
  BAD_CHUNK: 'ERR_HTTP_BAD_CHUNK',
  BODY_TOO_LARGE: 'ERR_HTTP_BODY_TOO_LARGE',
  BAD_EXPECT: 'ERR_HTTP_BAD_EXPECT',
  // FastCGI (the FastCGI 1.0 specification)
  FCGI_BAD_RECORD: 'ERR_FCGI_BAD_RECORD',
  FCGI_BAD_PARAMS: 'ERR_FCGI_BAD_PARAMS',
  SCGI_BAD_REQUEST: 'ERR_SCGI_BAD_REQUEST',
  UWSGI_BAD_PACKET: 'ERR_UWSGI_BAD_PACKET',
  PROXY_BAD_HEADER: 'ERR_PROXY_BAD_HEADER',
  // upstreams (php-fpm, uWSGI, CGI scripts behind warpipe)
  UPSTREAM_BAD_RESPONSE: 'ERR_UPSTREAM_BAD_RESPONSE',
  UPSTREAM_DOWN: 'ERR_UPSTREAM_DOWN',
  UPSTREAM_TIMEOUT: 'ERR_UPSTREAM_TIMEOUT',
  // responses produced by apps
  BAD_STATUS: 'ERR_APP_BAD_STATUS',
  BAD_RESPONSE_HEADER: 'ERR_APP_BAD_RESPONSE_HEADER',
  START_RESPONSE_TWICE: 'ERR_APP_START_RESPONSE_TWICE',
  NO_START_RESPONSE: 'ERR_APP_NO_START_RESPONSE',
  CONTENT_LENGTH_MISMATCH: 'ERR_APP_CONTENT_LENGTH_MISMATCH',
  BAD_ENVIRON: 'ERR_BAD_ENVIRON',
  // workers
  WORKER_PROTOCOL: 'ERR_WORKER_PROTOCOL',
  WORKER_DIED: 'ERR_WORKER_DIED',
  WORKER_BOOT: 'ERR_WORKER_BOOT',
  WORKER_TIMEOUT: 'ERR_WORKER_TIMEOUT',
  QUEUE_FULL: 'ERR_QUEUE_FULL',
  APP_ABORTED: 'ERR_APP_ABORTED',
  CLIENT_GONE: 'ERR_CLIENT_GONE',
  SPOOL_FAILED: 'ERR_SPOOL_FAILED',
  // starting the gateway
  LISTEN_FAILED: 'ERR_LISTEN_FAILED',
  PRIVILEGES: 'ERR_PRIVILEGES',
  PID_FILE: 'ERR_PID_FILE',
} as const;
