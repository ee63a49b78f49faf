// systemd socket activation (sd_listen_fds(3)): systemd binds the sockets of a
// .socket unit and starts warpipe with them as descriptors 3, 4, … and
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in the environment. Each
// descriptor's FileDescriptorName= says which listener serves it: http,
// fastcgi, scgi or uwsgi (unnamed ones are http). Restarting warpipe then
// loses no connection: the sockets stay open in systemd, and clients queue in
// their backlog until the new gateway accepts.

export const LISTENER_KINDS = ['http', 'fastcgi', 'scgi', 'uwsgi'] as const;
export type ListenerKind = (typeof LISTENER_KINDS)[number];

export interface InheritedSocket {
  fd: number;
  kind: ListenerKind;
}

const FIRST_FD = 3;

/**
 * The sockets systemd passed to this process ([] when none, or when the
 * variables were meant for another process). Throws a one-line Error for a
 * name that is no listener.
 */
export function inheritedSockets(env: NodeJS.ProcessEnv, pid: number): InheritedSocket[] {
  if (env.LISTEN_PID !== String(pid)) return [];
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count <= 0) return [];
  const names = env.LISTEN_FDNAMES?.split(':') ?? [];
  const sockets: InheritedSocket[] = [];
  for (let i = 0; i < count; i++) {
    const name = names[i] ?? 'unknown';
    const kind = name === 'unknown' || name === '' ? 'http' : name;
    if (!(LISTENER_KINDS as readonly string[]).includes(kind)) {
      throw new Error(
        `systemd passed descriptor ${FIRST_FD + i} named "${name}": name it (FileDescriptorName=) one of ${LISTENER_KINDS.join(', ')}`,
      );
    }
    sockets.push({ fd: FIRST_FD + i, kind: kind as ListenerKind });
  }
  return sockets;
}

/** Take the variables out of the environment, so that the workers (and their children) do not think the sockets are theirs. */
export function forgetActivation(env: NodeJS.ProcessEnv): void {
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
}
