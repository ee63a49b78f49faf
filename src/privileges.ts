// --user / --group: bind as root (ports below 1024, sockets in /run), then run
// as somebody else. The names are looked up through NSS (`getent`), so LDAP or
// systemd-userdb users work like /etc/passwd ones. The unix sockets made while
// root are given (src/listeners/bind.ts, before they appear at their paths) to
// the new user, so `--socket-mode 660` plus `--group www-data` gives nginx
// access and nobody else; or, with --socket-owner USER[:GROUP] (uWSGI's
// --chown-socket), the listeners' sockets go to that owner instead (Debian's
// nginx runs as www-data: `--socket-owner www-data`), while --control stays
// the server's own user's, mode 0600.

import { spawnSync } from 'node:child_process';
import { chownSync } from 'node:fs';
import { ConfigCheckError } from './errors.js';

export interface Identity {
  uid: number;
  gid: number;
  /** For log lines: `www-data:www-data`. */
  name: string;
}

function getent(db: 'passwd' | 'group', key: string): string[] | null {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return null;
  return r.stdout.split('\n')[0]!.split(':');
}

/** A user (passwd) or group by name or number; a number NSS does not know is taken as it is. */
function lookup(db: 'passwd' | 'group', key: string, flag?: string): { id: number; name: string; entry: string[] | null } {
  const entry = getent(db, key);
  if (entry) return { id: Number(entry[2]), name: entry[0]!, entry };
  const what = db === 'passwd' ? 'user' : 'group';
  if (!/^\d+$/.test(key)) throw new ConfigCheckError(`${flag ?? `--${what}`} ${key}: no such ${what}`);
  return { id: Number(key), name: key, entry: null };
}

/** The identity `--user` and `--group` name (null: neither given). A ConfigCheckError names what is unknown. */
export function lookupIdentity(user: string, group: string): Identity | null {
  if (!user && !group) return null;
  let uid = process.getuid!();
  let gid = process.getgid!();
  let userName = String(uid);
  if (user) {
    const u = lookup('passwd', user);
    uid = u.id;
    userName = u.name;
    if (!group && u.entry) gid = Number(u.entry[3]); // the user's primary group
  }
  let groupName: string;
  if (group) {
    const g = lookup('group', group);
    gid = g.id;
    groupName = g.name;
  } else {
    groupName = getent('group', String(gid))?.[0] ?? String(gid);
  }
  const same = uid === process.getuid!() && gid === process.getgid!();
  if (!same && process.getuid!() !== 0) throw new ConfigCheckError(`--user/--group ${userName}:${groupName} needs warpipe started as root`);
  return { uid, gid, name: `${userName}:${groupName}` };
}

/**
 * --socket-owner USER[:GROUP] or :GROUP, looked up (null: not given): who the listeners' unix sockets (and --metrics's)
 * are given to. USER alone means USER's primary group; :GROUP leaves the user the server runs as (-1: unchanged).
 */
export function lookupSocketOwner(spec: string): Identity | null {
  if (!spec) return null;
  const flag = '--socket-owner';
  const colon = spec.indexOf(':');
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? '' : spec.slice(colon + 1);
  if (user === '' && group === '') throw new ConfigCheckError(`${flag} "${spec}": give USER, USER:GROUP or :GROUP`);
  let uid = -1;
  let gid = -1;
  const names: string[] = [];
  if (user) {
    const u = lookup('passwd', user, flag);
    uid = u.id;
    names.push(u.name);
    if (!group && u.entry) gid = Number(u.entry[3]);
  }
  if (group) {
    const g = lookup('group', group, flag);
    gid = g.id;
    names.push(`:${g.name}`);
  }
  const mine = (uid === -1 || uid === process.getuid!()) && (gid === -1 || process.getgroups!().includes(gid) || gid === process.getgid!());
  if (!mine && process.getuid!() !== 0) throw new ConfigCheckError(`${flag} ${spec} needs warpipe started as root`);
  return { uid, gid, name: names.join('') };
}

/** Give `owned` (its log files) to `who`, then become it: supplementary groups, group, user, in that order. */
export function dropPrivileges(who: Identity, owned: readonly string[]): void {
  handOver(who, owned);
  if (process.getuid!() !== 0) return;
  process.setgroups!([who.gid]);
  process.setgid!(who.gid);
  process.setuid!(who.uid);
}

/** Give `owned` (files opened as root) to `who`, staying who we are (the primary that keeps root for --https: src/primary.ts). */
export function handOver(who: Identity, owned: readonly string[]): void {
  for (const path of owned) chownSync(path, who.uid, who.gid);
}
