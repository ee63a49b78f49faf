import select

import pytest

import harness


class Prefetch:
    """Workers booting ahead of the tests that will use them: starting an interpreter costs
    more than most tests, so each worker taken is replaced at once by one of the same kind."""

    def __init__(self):
        self.spare = {}
        self.all = []

    def _start(self, key):
        spec, threads, validate = key
        w = harness.Worker(spec, threads=threads, validate=validate, wait_ready=False)
        self.all.append(w)
        return w

    def take(self, key):
        w = self.spare.pop(key, None) or self._start(key)
        self.spare[key] = self._start(key)
        w.ready_info = w.ready()
        return w

    def close(self):
        for w in self.all:
            w.close()


@pytest.fixture(scope="session")
def _prefetch():
    p = Prefetch()
    yield p
    p.close()


@pytest.fixture
def spawn(_prefetch):
    """spawn(spec="testapp", threads=1, validate=False, ...) -> a booted harness.Worker of its own."""
    made = []

    def make(spec="testapp", threads=1, validate=False, **kwargs):
        if kwargs:
            w = harness.Worker(spec, threads=threads, validate=validate, **kwargs)
        else:
            w = _prefetch.take((spec, threads, validate))
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture(scope="session")
def _shared():
    workers = {}
    yield workers
    for w in workers.values():
        w.close()


def _clean(w):
    """True if the worker is alive, answers, and left nothing unread on its channel."""
    try:
        if w.proc.poll() is not None or w.get("/hello").body != b"hello":
            return False
        return not select.select([w.chans[0]], [], [], 0)[0]
    except Exception:
        return False


@pytest.fixture
def w(_shared):
    """The shared testapp worker (T=1); a test that leaves it dirty or dead gets it replaced."""
    worker = _shared.get("testapp")
    if worker is None:
        worker = _shared["testapp"] = harness.Worker("testapp")
    yield worker
    if not _clean(worker):
        worker.close()
        del _shared["testapp"]
