// The HTTP/1.1 listener's options (gateway.ts builds them from the config).

import type { TrustedProxies } from '../pipeline/forwarded.js';
import type { Limits } from '../protocols/http1/parse.js';
import type { HealthOptions } from './http-health.js';
import type { WebSocketOptions } from './websocket-session.js';

export interface HttpOptions {
  limits: Limits;
  bufferRequestBody: number;
  /**
   * Bodies of a known length over bufferRequestBody and up to this are written
   * to a temporary file in spoolDir as they arrive, and the app is called once
   * the whole body is in (0: never; they stream to the app).
   */
  spoolRequestBody?: number;
  spoolDir?: string;
  bufferResponse: number;
  headerTimeout: number; // seconds, like every timeout here
  bodyTimeout: number;
  /**
   * Bytes/s a body streamed to a worker must average (after a grace of
   * bodyTimeout), so a client cannot hold a worker by trickling (0: no floor).
   */
  minUploadRate: number;
  keepaliveTimeout: number;
  sendTimeout: number;
  serverSoftware: string;
  /** --forwarded-allow-ips: peers whose X-Forwarded-For/-Proto (and PROXY headers) are believed. */
  trustedProxies?: TrustedProxies;
  /** --proxy-protocol: every connection starts with a PROXY protocol header from one of trustedProxies. */
  proxyProtocol?: boolean;
  /** --https: serve TLS with this certificate and key (PEM), HTTP/1.1 (and HTTP/2, see http2) inside. */
  tls?: { cert: Buffer; key: Buffer };
  /** --websocket-max-message, --websocket-ping-interval, --websocket-ping-timeout (defaults: 16 MiB, 20 s, 20 s). */
  websocket?: WebSocketOptions;
  /** HTTP/2: h2 by ALPN on --https, h2c with prior knowledge on --http (absent: --http2 off, HTTP/1.1 only). */
  http2?: Http2Options;
  /** --health: this path is answered by the listener itself, before the app (http-health.ts). */
  health?: HealthOptions;
}

/** --http2-* (gateway.ts builds them from the config). */
export interface Http2Options {
  /** Concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreams: number;
  /** Streams reset before their answer per connection per 10 s (RESET_WINDOW_MS), before GOAWAY ENHANCE_YOUR_CALM. */
  maxResets: number;
}
