"""The worker's frame reader on a real socketpair: random frame sizes (up to several receive
buffers), random write chunking; every frame must come out whole and in order."""
import importlib.util
import random
import socket
import threading

import harness

spec = importlib.util.spec_from_file_location("warpipe_worker", harness.WORKER)
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)


def test_read_frame_across_arbitrary_chunking():
    rng = random.Random(1234)
    sizes = [rng.choice([0, 1, 4, 5, 100, 4096, 65531, 65536, 131067, 131072, 200000, 600000])
             for _ in range(300)]
    frames = [(rng.randrange(1, 255), rng.randbytes(n) if hasattr(rng, "randbytes") else bytes(n)) for n in sizes]
    stream = b"".join(harness.frame(t, p) for t, p in frames)
    a, b = socket.socketpair()

    def feed():
        pos = 0
        while pos < len(stream):
            n = rng.choice([1, 3, 5, 7, 1000, 65536, 300000])
            a.sendall(stream[pos:pos + n])
            pos += n
        a.close()

    t = threading.Thread(target=feed)
    t.start()
    ch = worker.Channel(b)
    try:
        for ftype, payload in frames:
            got_type, got = ch.read_frame()
            assert (got_type, bytes(got)) == (ftype, payload)
        try:
            ch.read_frame()
            raise AssertionError("no end of file")
        except worker.ChannelClosed:
            pass
    finally:
        t.join()
        b.close()
