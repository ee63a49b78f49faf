// Where a socket is: an address of the command line (--http, --fastcgi,
// --metrics, a --mount upstream…), for the listeners that bind it and the
// upstreams that dial it. Parsed once, while the config is read.
//   HOST:PORT   [IPv6]:PORT   PORT (127.0.0.1)   :PORT (0.0.0.0)   unix:/path

import { ConfigError } from './errors.js';

export type Address = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/**
 * An address as written on the command line; a ConfigError says what is wrong.
 * @example parseAddress('[::1]:8000') // { kind: 'tcp', host: '::1', port: 8000 }
 */
export function parseAddress(text: string): Address {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (!path) throw new ConfigError(`address "${text}" names no socket path`);
    return { kind: 'unix', path };
  }
  let host = '127.0.0.1';
  let portText = text;
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  if (m) {
    host = m[1]!;
    portText = m[2]!;
  } else if (text.includes(':')) {
    const i = text.lastIndexOf(':');
    host = text.slice(0, i) || '0.0.0.0';
    portText = text.slice(i + 1);
    if (host.includes(':')) throw new ConfigError(`address "${text}": write IPv6 hosts in brackets, like [::1]:8000`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new ConfigError(`address "${text}" needs a port from 0 to 65535 (HOST:PORT, [IPv6]:PORT or unix:/path)`);
  }
  return { kind: 'tcp', host, port: Number(portText) };
}

/** `HOST:PORT` or `unix:/path`, for log lines. */
export function addressName(address: Address): string {
  return address.kind === 'unix' ? `unix:${address.path}` : `${address.host}:${address.port}`;
}
