"""ASGI hot-path micro-benchmark (not collected by pytest): N requests to the smallest ASGI app
over channel 0, either one at a time on stream 0 (`--depth 1`) or with D streams in flight
(the gateway's way under load: it writes the next REQUEST on a stream as soon as that stream's
response came back). Reports the worker's CPU per request, user + system, from /proc/<pid>/stat.

    python3 python/tests/bench_asgi.py [N] [--depth D ...] [--loop asyncio|uvloop ...] [--rounds R] [--app SPEC]

The worker's interpreter is $WARPIPE_TEST_PYTHON, else this one (Debian's /usr/bin/python3 has
uvloop). The smallest app is apps/asgi_hello.py; --app fastapi_app:app GET /json for FastAPI.
"""
import statistics
import struct
import sys
import time

import harness
from bench_hotpath import cpu


def run(spec, path, loop, depth, n):
    w = harness.AsgiWorker(spec, loop=loop, cwd=harness.APPS)
    try:
        env = harness.make_environ(path)
        reqs = [harness.stream_frame(i) + harness.request_frame(env) for i in range(depth)]
        sock, out = w.chans[0], w.ins[0]
        buf = bytearray()
        state = {"sid": 0}

        def responses(want):
            """Read until `want` responses ended; returns the stream ids that ended, in order."""
            done = []
            while len(done) < want:
                data = sock.recv(1 << 20)
                assert data, "worker closed the channel"
                buf.extend(data)
                pos = 0
                while len(buf) - pos >= 5:
                    length, ftype = struct.unpack_from("<IB", buf, pos)
                    if pos + 5 + length > len(buf):
                        break
                    if ftype == harness.STREAM:
                        state["sid"] = struct.unpack_from("<I", buf, pos + 5)[0]
                    elif ftype == harness.REND or ftype == harness.ABORT or (
                            ftype == harness.RESPONSE and buf[pos + 5] & 1):
                        assert ftype != harness.ABORT
                        done.append(state["sid"])
                    pos += 5 + length
                del buf[:pos]
            return done

        def burst(count):
            out.sendall(b"".join(reqs))
            sent, got = depth, 0
            while got < count:
                done = responses(1)
                got += len(done)
                more = [reqs[sid] for sid in done if sent < count]
                sent += len(more)
                if more:
                    out.sendall(b"".join(more))
                while sent > count:  # (never: we only send what is left)
                    break
            return got

        burst(2000)  # warm up
        (u0, s0), t0 = cpu(w.proc.pid), time.perf_counter()
        burst(n)
        elapsed, (u1, s1) = time.perf_counter() - t0, cpu(w.proc.pid)
        return n / elapsed, (u1 - u0) / n * 1e6, (s1 - s0) / n * 1e6
    finally:
        w.close()


def main():
    args = sys.argv[1:]
    opts = {"--rounds": ["3"], "--depth": [], "--loop": [], "--app": [], "--path": []}
    rest = []
    while args:
        a = args.pop(0)
        if a in opts:
            opts[a].append(args.pop(0))
        else:
            rest.append(a)
    n = int(rest[0]) if rest else 20000
    rounds = int(opts["--rounds"][-1])
    spec = opts["--app"][-1] if opts["--app"] else "asgi_hello:app"
    path = opts["--path"][-1] if opts["--path"] else "/"
    for loop in opts["--loop"] or ["asyncio"]:
        for depth in [int(d) for d in opts["--depth"]] or [1, 16]:
            results = [run(spec, path, loop, depth, n) for _ in range(rounds)]
            cpus = sorted(u + s for _, u, s in results)
            best = min(results, key=lambda r: r[1] + r[2])
            print("%s %-7s depth %-3d %d x %d: worker CPU best %.1f us/request (user %.1f, sys %.1f), median %.1f; "
                  "best %.0f req/s" % (spec, loop, depth, rounds, n, cpus[0], best[1], best[2],
                                       statistics.median(cpus), max(r[0] for r in results)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
