"""ASGI boot: interface detection, --interface/--loop errors, lifespan startup and shutdown."""
import json
import subprocess

import pytest

import harness


def boot(spec, **kw):
    return harness.AsgiWorker(spec, wait_ready=False, **kw)


@pytest.mark.parametrize("spec,body", [("asgi_forms:plain", b"plain"), ("asgi_forms:instance", b"instance"),
                                       ("asgi_forms:partial", b"partial"),
                                       ("asgi_forms:partial_instance", b"partial instance")])
@pytest.mark.parametrize("interface", [None, "auto", "asgi"])
def test_asgi3_forms_are_detected(spec, body, interface):
    w = harness.AsgiWorker(spec, interface=interface)
    try:
        assert w.ready_info["interface"] == "asgi"
        assert w.get_on(0, "/").body == body
    finally:
        w.close()


def test_wsgi_app_is_wsgi_with_auto():
    w = harness.AsgiWorker("asgi_forms:wsgi", interface="auto")
    try:
        assert w.ready_info["interface"] == "wsgi" and "loop" not in w.ready_info
        assert w.get("/").body == b"wsgi"
    finally:
        w.close()


@pytest.mark.parametrize("spec,interface,words", [
    ("asgi_forms:wsgi", "asgi", ["--interface asgi, but", "is not an ASGI 3 app", "ASGI 2 apps are not supported"]),
    ("asgi_forms:Asgi2", "asgi", ["is not an ASGI 3 app", "ASGI 2 apps are not supported"]),
    ("asgi_forms:plain", "wsgi", ["--interface wsgi, but", "is an ASGI app"]),
])
def test_a_wrong_interface_is_a_boot_error(spec, interface, words):
    w = boot(spec, interface=interface)
    try:
        text = w.boot_error()
        first = text.splitlines()[0]
        assert first.startswith("Failed to load application %r: " % spec)
        for word in words:
            assert word in first
        assert w.proc.wait(harness.TIMEOUT) == 3
    finally:
        w.close()


def test_bad_interface_and_loop_values_are_boot_errors():
    for extra, word in ((["--interface", "rsgi"]), "--interface must be one of auto, wsgi, asgi"), \
                       ((["--loop", "trio"]), "--loop must be one of auto, asyncio, uvloop"), \
                       ((["--streams", "0"]), "--streams needs a positive whole number"):
        w = boot("asgi_forms:plain", extra=extra)
        try:
            assert word in w.boot_error()
            assert w.proc.wait(harness.TIMEOUT) == 3
        finally:
            w.close()


def has_uvloop(python):
    return subprocess.call([python, "-c", "import uvloop"], stderr=subprocess.DEVNULL) == 0


def test_loop_uvloop_without_uvloop_is_a_boot_error():
    if has_uvloop(harness.PYTHON):
        pytest.skip("%s has uvloop" % harness.PYTHON)
    w = boot("asgi_forms:plain", loop="uvloop")
    try:
        first = w.boot_error().splitlines()[0]
        assert "--loop uvloop, but" in first and "cannot import uvloop" in first
        assert w.proc.wait(harness.TIMEOUT) == 3
    finally:
        w.close()


def test_loop_auto_and_asyncio():
    w = harness.AsgiWorker("asgi_forms:plain", loop="asyncio")
    try:
        assert w.ready_info["loop"] == "asyncio"
    finally:
        w.close()
    w = harness.AsgiWorker("asgi_forms:plain")
    try:
        assert w.ready_info["loop"] == ("uvloop" if has_uvloop(harness.PYTHON) else "asyncio")
    finally:
        w.close()


def test_lifespan_complete_passes_a_copy_of_the_state():
    w = harness.AsgiWorker("asgi_lifespan:ok")
    try:
        assert w.ready_info["lifespan"] == "on"
        for sid in (0, 1):  # the app adds "mutated" to its scope's state: the next request gets a fresh copy
            assert json.loads(w.get_on(sid, "/").body) == {"db": "'connected'", "mutated": "True"}
        w.stop()
        assert w.wait() == 0
        assert "lifespan shutdown ran" in w.stderr_text()
    finally:
        w.close()


def test_lifespan_shutdown_waits_for_the_streams():
    w = harness.AsgiWorker("asgi_lifespan:ok")
    try:
        w.start(0, "/", method="POST", complete=False)  # the app answers without reading its body
        w.stop()
        assert json.loads(w.response_on(0).body)["db"] == "'connected'"
        w.send_frame_on(0, harness.END, b"\1")
        assert w.chans[0].recv(1) == b""
        assert "lifespan shutdown ran" in w.stderr_text()
        assert w.wait() == 0
    finally:
        w.close()


@pytest.mark.parametrize("spec,words", [
    ("asgi_lifespan:failed", ["lifespan startup failed: database unreachable"]),
    ("asgi_lifespan:raises", ["lifespan startup raised ConnectionError: cannot reach the cache", "Traceback"]),
])
def test_lifespan_startup_failure_is_a_boot_error(spec, words):
    w = boot(spec)
    try:
        text = w.boot_error()
        assert text.startswith("Failed to load application %r: " % spec)
        for word in words:
            assert word in text
        assert w.proc.wait(harness.TIMEOUT) == 3
    finally:
        w.close()


@pytest.mark.parametrize("spec,why", [("asgi_lifespan:unsupported", "ValueError: only http here"),
                                      ("asgi_lifespan:returns", "the app returned")])
def test_lifespan_unsupported(spec, why):
    w = harness.AsgiWorker(spec)
    try:
        assert w.ready_info["lifespan"] == "unsupported"
        assert "does not support the ASGI lifespan scope (%s)" % why in w.stderr_text()
        assert json.loads(w.get_on(0, "/").body) == {}
        w.stop()
        assert w.wait() == 0
    finally:
        w.close()


def test_lifespan_shutdown_failed_goes_to_stderr_and_the_worker_exits_0():
    w = harness.AsgiWorker("asgi_lifespan:shutdown_fails")
    try:
        w.stop()
        assert w.wait() == 0
        assert "lifespan shutdown failed: flush failed" in w.stderr_text()
    finally:
        w.close()


def test_with_several_threads_only_channel_0_is_used():
    w = harness.AsgiWorker("asgiapp:app", threads=3, streams=8)
    try:
        assert w.ready_info["threads"] == 3 and w.ready_info["streams"] == 8
        for sid in range(8):
            w.start(sid, "/barrier?n=8")
        assert all(w.response_on(sid).body == b"passed" for sid in range(8))
        w.stop()
        assert w.wait() == 0
    finally:
        w.close()
