// The control socket (--control PATH): a unix socket, mode 0600, through which
// `warpipe status` and `warpipe reload` reach a running gateway. One command
// per connection, one line each way: the client sends `status` or `reload`,
// the gateway answers one JSON object and closes. A side service of its own,
// so the arbiter only has to answer `status()` and `reload()`. The socket is
// the server's own user's (with --user, that user's; never --socket-owner's).

import net from 'node:net';
import { bind, type SocketOwner } from './listeners/bind.js';
import type { Logger } from './log.js';
import type { PoolStatus } from './workers/arbiter.js';

export interface Controlled {
  /** The pool now (asked of every gateway, with --gateways N). */
  status(): PoolStatus | Promise<PoolStatus>;
  reload(): void;
}

const MAX_LINE = 256;

/** Serve the control socket at `path`; resolves once it listens. */
export function listenControl(path: string, target: Controlled, log: Logger, owner: SocketOwner | null = null): Promise<net.Server> {
  const server = net.createServer((sock) => {
    let line = '';
    sock.setEncoding('latin1');
    sock.on('error', () => {});
    sock.on('data', (chunk: string) => {
      line += chunk;
      const nl = line.indexOf('\n');
      if (nl < 0 && line.length <= MAX_LINE) return;
      sock.removeAllListeners('data');
      const command = (nl < 0 ? line : line.slice(0, nl)).trim();
      answer(command, target, log).then(
        (reply) => sock.end(`${JSON.stringify(reply)}\n`),
        (err: Error) => sock.end(`${JSON.stringify({ ok: false, error: err.message })}\n`),
      );
    });
  });
  const onError = (err: Error): void => log.error(`control socket error: ${err.message}`);
  // a live control socket at the path is another server's: never taken over (issue 14), and never removed on exit
  return bind(server, { kind: 'unix', path }, 0o600, onError, false, owner).then(() => {
    server.unref();
    return server;
  });
}

async function answer(command: string, target: Controlled, log: Logger): Promise<object> {
  switch (command) {
    case 'status':
      return { ok: true, status: await target.status() };
    case 'reload':
      log.info('reload asked for on the control socket');
      target.reload();
      return { ok: true };
    default:
      return { ok: false, error: `unknown command ${JSON.stringify(command.slice(0, 40))} (status, reload)` };
  }
}

/** Send `command` to the gateway listening at `path`; its JSON answer. */
export function sendControl(
  path: string,
  command: string,
  timeoutMs = 5000,
): Promise<{ ok: boolean; error?: string; status?: PoolStatus }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let text = '';
    sock.setEncoding('utf8');
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (d: string) => (text += d));
    sock.on('error', reject);
    sock.on('end', () => {
      try {
        resolve(JSON.parse(text) as { ok: boolean; error?: string; status?: PoolStatus });
      } catch {
        reject(new Error(`unreadable answer: ${text.slice(0, 200)}`));
      }
    });
  });
}

/** The pool as a table, for `warpipe status` and the SIGUSR1 log line. */
export function formatStatus(s: PoolStatus): string {
  const gateways = s.gateways ?? [];
  const rows = [[...(gateways.length ? ['GW'] : []), 'PID', 'GEN', 'STATE', 'SERVED', 'RSS MiB', 'AGE s', 'RUNNING']];
  for (const w of s.workers) {
    rows.push([
      ...(gateways.length ? [String(w.gateway ?? '-')] : []),
      String(w.pid),
      String(w.generation),
      w.state,
      String(w.served),
      w.rss.toFixed(1),
      String(Math.round(w.age)),
      w.running.map((r) => `${r.request} (${r.seconds.toFixed(1)}s)`).join('; ') || '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  const bounds = s.minWorkers === s.maxWorkers ? `${s.minWorkers}` : `${s.minWorkers} to ${s.maxWorkers}`;
  const where = gateways.length ? ` in ${gateways.length} gateways (pids ${gateways.join(', ')})` : '';
  return [`pool: ${bounds} workers${where} (generation ${s.generation}), ${s.queued} requests queued`, ...lines].join('\n');
}
