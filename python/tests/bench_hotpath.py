"""Hot-path micro-benchmark (not collected by pytest): N sequential requests over one request
channel from this Python client, each answered by a one-frame list response. Reports requests/s
(bounded by the client and the round trip) and the worker's CPU time per request, user + system,
from /proc/<pid>/stat.

    python3 python/tests/bench_hotpath.py [N] [PATH]      (PATH: /hello, the router's cheapest)
"""
import os
import sys
import time

import harness


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    path = sys.argv[2] if len(sys.argv) > 2 else "/hello"
    w = harness.Worker("testapp")
    try:
        frame = harness.request_frame(harness.make_environ(path))
        sock = w.chans[0]
        for _ in range(1000):  # warm up
            sock.sendall(frame)
            w.read_frame(sock)
        (u0, s0), t0 = cpu(w.proc.pid), time.perf_counter()
        for _ in range(n):
            sock.sendall(frame)
            ftype, payload = w.read_frame(sock)
        elapsed, (u1, s1) = time.perf_counter() - t0, cpu(w.proc.pid)
        assert ftype == harness.RESPONSE, payload
        print("%d requests in %.2f s: %.0f req/s; worker CPU %.1f us/request (user %.1f, system %.1f)"
              % (n, elapsed, n / elapsed, (u1 - u0 + s1 - s0) / n * 1e6, (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6))
    finally:
        w.close()


if __name__ == "__main__":
    main()
