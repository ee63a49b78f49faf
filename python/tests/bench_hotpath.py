"""Hot-path micro-benchmark (not collected by pytest): N sequential requests over one request
channel from this Python client. Reports requests/s (bounded by the client and the round trip)
and the worker's CPU time per request, user + system, from /proc/<pid>/stat.

    python3 python/tests/bench_hotpath.py [N] [MODE ...] [--rounds R]

MODE (default: all of them), with the product benchmark's apps from bench/apps:
    hello    hello:application, a one-element list                 GET /
    flask    flask_app:application, a JSON view (a non-list iterable) GET /json
    echo     payload:application, a 10 KiB body inline in REQUEST   POST /echo
    router   the tests' testapp, /hello through its router
Each mode runs R rounds (default 3) on a fresh worker and prints the best and the median, as
other processes on the machine make single runs noisy. The worker's interpreter is
$WARPIPE_TEST_PYTHON, else this one.
"""
import os
import statistics
import sys
import time

import harness

BENCH_APPS = os.path.join(os.path.dirname(os.path.dirname(harness.HERE)), "bench", "apps")
MODES = {  # name: (spec, cwd, path, method, body)
    "hello": ("hello:application", BENCH_APPS, "/", "GET", None),
    "flask": ("flask_app:application", BENCH_APPS, "/json", "GET", None),
    "echo": ("payload:application", BENCH_APPS, "/echo", "POST", b"x" * 10240),
    "router": ("testapp", harness.APPS, "/hello", "GET", None),
}


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def run(mode, n):
    spec, cwd, path, method, body = MODES[mode]
    w = harness.Worker(spec, cwd=cwd)
    try:
        frame = harness.request_frame(harness.make_environ(path, method, body=body), body or b"")
        sock, out = w.chans[0], w.ins[0]

        def one():
            out.sendall(frame)
            ftype, payload = w.read_frame(sock)
            while ftype != harness.RESPONSE or not payload[0] & 1:  # until END or RESPONSE+end
                if ftype == harness.REND:
                    return payload
                assert ftype in (harness.RESPONSE, harness.RDATA), (ftype, payload)
                ftype, payload = w.read_frame(sock)
            return payload

        for _ in range(1000):  # warm up
            last = one()
        assert b"\0" in last or body is None, last
        (u0, s0), t0 = cpu(w.proc.pid), time.perf_counter()
        for _ in range(n):
            one()
        elapsed, (u1, s1) = time.perf_counter() - t0, cpu(w.proc.pid)
        return n / elapsed, (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6
    finally:
        w.close()


def main():
    args = sys.argv[1:]
    rounds = 3
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i:i + 2]
    n = int(args.pop(0)) if args and args[0].isdigit() else 20000
    for mode in args or list(MODES):
        results = [run(mode, n) for _ in range(rounds)]
        cpus = sorted(u + s for _, u, s in results)
        best = min(results, key=lambda r: r[1] + r[2])
        print("%-6s %d x %d: worker CPU best %.1f us/request (user %.1f, sys %.1f), median %.1f; "
              "best %.0f req/s" % (mode, rounds, n, cpus[0], best[1], best[2], statistics.median(cpus),
                                   max(r[0] for r in results)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
