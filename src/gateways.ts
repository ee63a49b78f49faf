// --gateways N: what the primary (src/primary.ts) and its gateways share. Each
// gateway is a Node process of its own (a `node:cluster` worker) that runs the
// whole gateway of src/gateway.ts on a share of the pool: it learns which one
// it is from WARPIPE_GATEWAY, takes the listening sockets from the primary
// (cluster's shared handles: every gateway accepts on the same socket, none
// goes through the primary), and answers the primary's questions over the IPC
// channel. The primary relays signals as signals, so a gateway reacts to them
// as a lone gateway does.

import type { InheritedSocket, ListenerKind } from './socket-activation.js';
import type { PoolStatus } from './workers/pool-status.js';

/** Which gateway this process is, of how many (index from 0). */
export interface Member {
  index: number;
  count: number;
  /**
   * Bind TCP ports with a socket of its own, in the port's SO_REUSEPORT group, instead of taking the
   * primary's: the kernel then spreads new connections evenly over the gateways by their addresses.
   * On a shared socket, whichever gateway wakes first accepts every connection waiting, so a burst (a
   * load balancer opening its pool, wrk starting) can land on one gateway. The primary chooses it where
   * Node has it (22.12 on) and no --user is given: the members of a group must have one user, and a
   * gateway started again after the primary dropped privileges could neither join a group of root's
   * nor bind a port below 1024.
   */
  reusePort: boolean;
}

const MEMBER_VAR = 'WARPIPE_GATEWAY';
const SOCKETS_VAR = 'WARPIPE_GATEWAY_SOCKETS';
const REUSE_PORT_VAR = 'WARPIPE_GATEWAY_REUSE_PORT';
const CONFIG_TEXT_VAR = 'WARPIPE_GATEWAY_CONFIG_TEXT';

/**
 * The environment a gateway starts with: which one it is, the sockets systemd gave the primary, and the
 * --config file's text as the primary read it (`configText`): a gateway started later, as --user or after
 * the file was edited, resolves to the primary's Config all the same.
 */
export function memberEnv(member: Member, inherited: readonly InheritedSocket[], configText: string | null = null): NodeJS.ProcessEnv {
  return {
    [MEMBER_VAR]: `${member.index + 1}/${member.count}`,
    [SOCKETS_VAR]: inherited.map((s) => `${s.fd}:${s.kind}`).join(','),
    [REUSE_PORT_VAR]: member.reusePort ? '1' : '0',
    ...(configText === null ? {} : { [CONFIG_TEXT_VAR]: configText }),
  };
}

/** A gateway: the --config text its primary read (undefined: none passed, read the file). */
export function memberConfigText(env: NodeJS.ProcessEnv): string | undefined {
  return env[CONFIG_TEXT_VAR];
}

/** This process's place among the gateways (null: a lone gateway, or the primary). */
export function memberOf(env: NodeJS.ProcessEnv, isClusterWorker: boolean): Member | null {
  const m = /^(\d+)\/(\d+)$/.exec(env[MEMBER_VAR] ?? '');
  if (!m || !isClusterWorker) return null;
  return { index: Number(m[1]) - 1, count: Number(m[2]), reusePort: env[REUSE_PORT_VAR] === '1' };
}

/** The sockets systemd passed to the primary, which a gateway asks the primary for by descriptor. */
export function memberSockets(env: NodeJS.ProcessEnv): InheritedSocket[] {
  const list = env[SOCKETS_VAR] ?? '';
  if (list === '') return [];
  return list.split(',').map((entry) => {
    const [fd, kind] = entry.split(':');
    return { fd: Number(fd), kind: kind as ListenerKind };
  });
}

/** `total` split over `count` gateways as evenly as whole numbers go; the first ones take the remainder. */
export function share(total: number, count: number, index: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

/** What a gateway holds a share of (a Config's fields). */
interface Shared {
  workers: number;
  maxWorkers: number;
  maxConnections: number;
  backlog: number;
}

/** The settings a gateway holds a share of: workers (and autoscaling's bound), --max-connections, --backlog. */
export function memberConfig<C extends Shared>(config: C, member: Member): C {
  const { index, count } = member;
  const workers = share(config.workers, count, index);
  return Object.freeze({
    ...config,
    workers,
    maxWorkers: Math.max(workers, share(config.maxWorkers, count, index)),
    maxConnections: config.maxConnections === 0 ? 0 : Math.max(1, share(config.maxConnections, count, index)),
    backlog: Math.max(1, share(config.backlog, count, index)),
  });
}

/** The primary asks a gateway. */
export type Ask =
  | { type: 'status'; id: number }
  | { type: 'metrics'; id: number }
  | { type: 'reload' }
  /** Drain and exit (`now`: kill the workers and exit at once). A message, not a signal: see Gateway.installSignals. */
  | { type: 'stop'; signal: string; now: boolean }
  /** --https: the certificate and key the primary re-read on SIGHUP (PEM text), for new connections. */
  | { type: 'certificate'; cert: string; key: string };

/** A gateway tells the primary. */
export type Tell =
  | { type: 'ready'; where: string[]; workers: number }
  | { type: 'status'; id: number; status: PoolStatus }
  | { type: 'metrics'; id: number; metrics: unknown[] };
