// --metrics: the counters move with real traffic (a 200, a 404, a worker that
// dies, a request past --timeout, garbage the parser refuses), the pool gauges
// match the pool; Debian's promtool accepts the exposition, and a real
// Prometheus scrapes it (target up, no scrape error, the same numbers).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { requirePeer, runCli, startServer, type Server } from '../helpers/server.js';
import { freePort } from '../helpers/net.js';
import { exchange } from '../helpers/raw.js';

const havePromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
const havePrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

/** The samples of a Prometheus text exposition: "name{labels}" -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

describe('--metrics', () => {
  let srv: Server;
  let metricsUrl = '';
  const scrape = async (): Promise<Map<string, number>> => samples(await (await fetch(metricsUrl)).text());

  before(async () => {
    srv = await startServer('pep3333:application', { args: ['--metrics', '127.0.0.1:0', '--timeout', '1'] });
    metricsUrl = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(
      await srv.waitForLog(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/),
    )![1]!;
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${srv.url}/sized?10`)).status, 200);
    assert.equal((await fetch(`${srv.url}/status?404`)).status, 404);
    assert.equal((await fetch(`${srv.url}/die`)).status, 502);
    assert.equal((await fetch(`${srv.url}/sleep?3`)).status, 504);
    await exchange(srv.port, 'GARBAGE\r\n\r\n');
    await srv.waitForLog(/worker \d+ exited \(signal SIGKILL\) after retiring \(timeout\)/);
  });
  after(async () => {
    assert.equal(await srv.stop(), 0);
  });

  test('requests by listener and status code, their durations and bytes; the pool as it is', async () => {
    // the pool is whole again: two idle workers (the dead one and the timed-out one replaced)
    let m = await scrape();
    for (let i = 0; i < 100 && m.get('warpipe_workers{state="idle"}') !== 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      m = await scrape();
    }
    const http = (code: number): number | undefined => m.get(`warpipe_requests_total{listener="http",code="${code}"}`);
    assert.deepEqual([http(200), http(404), http(502), http(504), http(400)], [3, 1, 1, 1, 1]);
    assert.equal(m.get('warpipe_request_duration_seconds_count{listener="http"}'), 7);
    assert.ok(m.get('warpipe_request_duration_seconds_sum{listener="http"}')! >= 1, 'the 504 alone took a second');
    assert.equal(m.get('warpipe_request_duration_seconds_bucket{le="+Inf",listener="http"}'), 7);
    assert.ok(m.get('warpipe_response_body_bytes_total{listener="http"}')! >= 30);
    assert.equal(m.get('warpipe_workers{state="idle"}'), 2);
    assert.equal(m.get('warpipe_workers{state="busy"}'), 0);
    assert.equal(m.get('warpipe_worker_spawns_total'), 4);
    assert.equal(m.get('warpipe_worker_crashes_total'), 1);
    assert.equal(m.get('warpipe_worker_timeouts_total'), 1);
    assert.equal(m.get('warpipe_reloads_total'), 0);
    assert.equal(m.get('warpipe_queue_length'), 0);
    assert.equal(m.get('warpipe_queue_rejected_total'), 0);
    assert.equal(m.get('warpipe_worker_recycles_total{cause="max_requests"}'), 0);
    assert.ok(m.get('warpipe_workers_resident_memory_bytes')! > 4 << 20);
    assert.ok(m.get('warpipe_gateway_process_resident_memory_bytes')! > 20 << 20);
    assert.equal(m.get('warpipe_connections{listener="fastcgi"}'), 0);
    assert.match([...m.keys()].find((k) => k.startsWith('warpipe_info'))!, /^warpipe_info\{version="\d+\.\d+\.\d+"\}$/);

    const reload = m.get('warpipe_reloads_total')!;
    srv.proc.kill('SIGHUP');
    await srv.waitForLog(/reload: starting/);
    assert.equal((await scrape()).get('warpipe_reloads_total'), reload + 1);
  });

  test('only GET or HEAD /metrics is served on the metrics port', async () => {
    const base = metricsUrl.replace('/metrics', '');
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(metricsUrl, { method: 'POST' })).status, 405);
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  });

  test("promtool accepts the exposition (its only complaints are about prom-client's own Node.js gauges)", async (t) => {
    if (!requirePeer(t, havePromtool, 'promtool (Debian package prometheus)')) return;
    const text = await (await fetch(metricsUrl)).text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
    const ours = problems.filter(
      (l) => !/^warpipe_gateway_nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/.test(l),
    );
    assert.deepEqual(ours, [], `promtool: ${problems.join('\n')}`);
  });
});

describe('a real Prometheus scraping --metrics', () => {
  let srv: Server | null = null;
  let prom: ChildProcess | null = null;
  let promUrl = '';
  const dir = mkdtempSync(`${tmpdir()}/warpipe-prom-`);

  before(async () => {
    if (!havePrometheus) return;
    const port = await freePort();
    srv = await startServer('pep3333:application', { args: ['--metrics', `127.0.0.1:${port}`] });
    const promPort = await freePort();
    writeFileSync(
      `${dir}/prometheus.yml`,
      `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: warpipe\n    static_configs: [{ targets: ['127.0.0.1:${port}'] }]\n`,
    );
    prom = spawn(
      'prometheus',
      [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${promPort}`],
      { stdio: 'ignore' },
    );
    promUrl = `http://127.0.0.1:${promPort}`;
  });
  after(async () => {
    prom?.kill('SIGTERM');
    if (srv) assert.equal(await srv.stop(), 0);
  });

  test('the target is up, scraped without error, and holds the requests sent', async (t) => {
    if (!requirePeer(t, havePrometheus, 'prometheus (Debian package prometheus)')) return;
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${srv!.url}/sized?1`)).status, 200);
    // Prometheus hands targets to the scraper at most every 5 s: allow 20
    let value: string | null = null;
    for (let i = 0; i < 200 && value !== '5'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('warpipe_requests_total{code="200"}')}`).catch(
        () => null,
      );
      if (!res?.ok) continue;
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      value = body.data.result[0]?.value[1] ?? null;
    }
    assert.equal(value, '5');
    const targets = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as {
      data: { activeTargets: { health: string; lastError: string }[] };
    };
    assert.deepEqual(
      targets.data.activeTargets.map((x) => [x.health, x.lastError]),
      [['up', '']],
    );
  });
});

test('--metrics on a bad address is one line and exit 2; on a taken port, exit 1', async () => {
  const bad = await runCli(['pep3333:application', '--metrics', 'nowhere']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^warpipe: --metrics is not an address: .*\n$/);
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as net.AddressInfo).port;
  const busy = await runCli(['pep3333:application', '--http', '127.0.0.1:0', '--metrics', `127.0.0.1:${port}`]);
  taken.close();
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, new RegExp(`warpipe: cannot serve --metrics on 127\\.0\\.0\\.1:${port}: address already in use\\n$`));
});
