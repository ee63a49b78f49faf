import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberConfig, memberEnv, memberOf, memberSockets, share } from './gateways.js';
import { canReusePort } from './listeners/bind.js';

test('a share of a total: as even as whole numbers go, the first gateways take the remainder, the shares add up', () => {
  for (const [total, count] of [
    [4, 2],
    [5, 2],
    [7, 3],
    [10000, 3],
    [2, 2],
  ] as const) {
    const shares = Array.from({ length: count }, (_, i) => share(total, count, i));
    assert.equal(
      shares.reduce((a, b) => a + b, 0),
      total,
    );
    assert.ok(Math.max(...shares) - Math.min(...shares) <= 1, `${shares}`);
  }
  assert.deepEqual(
    [0, 1, 2].map((i) => share(7, 3, i)),
    [3, 2, 2],
  );
});

test("a gateway's config: its share of the workers, autoscaling's bound, --max-connections (0 stays no limit) and --backlog", () => {
  const config = { workers: 5, maxWorkers: 9, maxConnections: 10000, backlog: 2048, app: 'a:b' };
  assert.deepEqual(memberConfig(config, { index: 0, count: 2, reusePort: false }), {
    workers: 3,
    maxWorkers: 5,
    maxConnections: 5000,
    backlog: 1024,
    app: 'a:b',
  });
  assert.deepEqual(memberConfig(config, { index: 1, count: 2, reusePort: false }), {
    workers: 2,
    maxWorkers: 4,
    maxConnections: 5000,
    backlog: 1024,
    app: 'a:b',
  });
  assert.equal(memberConfig({ ...config, maxConnections: 0 }, { index: 1, count: 2, reusePort: false }).maxConnections, 0);
});

test('which gateway a process is travels in its environment, with the sockets systemd gave the primary', () => {
  const env = memberEnv({ index: 1, count: 3, reusePort: true }, [
    { fd: 3, kind: 'http' },
    { fd: 4, kind: 'fastcgi' },
  ]);
  assert.deepEqual(memberOf(env, true), { index: 1, count: 3, reusePort: true });
  assert.equal(memberOf(env, false), null, 'only a cluster worker is a gateway of several');
  assert.equal(memberOf({}, true), null);
  assert.deepEqual(memberSockets(env), [
    { fd: 3, kind: 'http' },
    { fd: 4, kind: 'fastcgi' },
  ]);
  assert.deepEqual(memberSockets(memberEnv({ index: 0, count: 2, reusePort: false }, [])), []);
});

test('reusePort: Node 22.12 on the 22 line, 23.1 on', () => {
  assert.deepEqual(
    ['20.19.0', '22.11.0', '22.12.0', '23.0.0', '23.1.0', '24.0.0'].map((v) => canReusePort(v)),
    [false, false, true, false, true, true],
  );
});
