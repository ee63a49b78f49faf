"""Real ASGI frameworks from Debian's packages, run by Debian's /usr/bin/python3 (or
$WARPIPE_FRAMEWORK_PYTHON): FastAPI, Starlette and Django's ASGI handler. Skipped, with the
reason, where that interpreter lacks them."""
import json
import os
import subprocess

import pytest

import harness
from harness import END, WS_ACCEPT, WS_CLOSED, WS_RECEIVE, WS_SEND, REND, ws_closed, ws_receive

PYTHON = os.environ.get("WARPIPE_FRAMEWORK_PYTHON", "/usr/bin/python3")


def worker_with(module, spec, loop=None):
    if not os.path.exists(PYTHON):
        pytest.skip("no %s" % PYTHON)
    if subprocess.call([PYTHON, "-c", "import " + module], stderr=subprocess.DEVNULL) != 0:
        pytest.skip("%s cannot import %s" % (PYTHON, module))
    old = harness.PYTHON
    harness.PYTHON = PYTHON
    try:
        return harness.AsgiWorker(spec, loop=loop)
    finally:
        harness.PYTHON = old


@pytest.fixture(scope="module", params=["auto", "asyncio"])
def fastapi_worker(request):
    w = worker_with("fastapi", "fastapi_app:app", loop=request.param)
    yield w
    w.close()


def test_fastapi_json_parameters_and_lifespan_state(fastapi_worker):
    w = fastapi_worker
    assert w.ready_info["lifespan"] == "on"
    r = w.get_on(0, "/json")
    assert r.status == "200 OK" and r.json() == {"message": "Hello, World!"}
    assert r.header("content-type") == "application/json" and r.kinds == ["RESPONSE"]
    assert w.get_on(1, "/items/42?q=abc").json() == {"item_id": 42, "q": "abc"}
    assert w.get_on(1, "/items/nope").status == "422 Unprocessable Entity"
    assert w.get_on(2, "/state").json() == {"greeting": "hi from lifespan"}


def test_fastapi_one_mib_upload_in_pieces(fastapi_worker):
    w = fastapi_worker
    body = bytes(range(256)) * 4096
    w.start(3, "/upload", "POST", complete=False, CONTENT_LENGTH=str(len(body)), CONTENT_TYPE="application/octet-stream")
    for i in range(0, len(body), 65536):
        w.send_frame_on(3, harness.DATA, body[i:i + 65536])
    w.send_frame_on(3, END, b"\0")
    r = w.response_on(3)
    assert r.json() == {"size": 1 << 20, "head": body[:8].decode("latin-1")}


def test_fastapi_streaming_response_arrives_in_pieces(fastapi_worker):
    r = fastapi_worker.get_on(4, "/stream")
    assert r.body == b"piece 0\npiece 1\npiece 2\n"
    assert r.kinds.count("DATA") >= 2 and r.kinds[-1] == "END"


def test_fastapi_websocket_echo(fastapi_worker):
    w = fastapi_worker
    w.start(5, "/ws", websocket=True, headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"})
    assert w.frame(5) == (WS_ACCEPT, b"\0")  # no subprotocol, no headers
    w.send_frame_on(5, WS_RECEIVE, ws_receive("ping"))
    assert w.frame(5) == (WS_SEND, b"\x01echo: ping")
    w.send_frame_on(5, WS_CLOSED, ws_closed(1000))
    assert w.frame(5) == (REND, b"")


def test_starlette_mount_root_path_and_background_task():
    w = worker_with("starlette", "starlette_app:app")
    try:
        assert w.get_on(0, "/").body == b"home"
        where = w.get_on(0, "/sub/where/x").json()
        assert where["path"] == "/sub/where/x" and where["root_path"] == "/sub"
        assert where["path_params"] == {"name": "x"}
        # (no SCRIPT_NAME prefix here: Starlette before 0.33, Debian's 0.26 included, routes on the whole
        # scope["path"], which the ASGI spec and the worker make root_path + the rest; Django strips it)
        assert w.get_on(1, "/background").body == b"queued"
        w.stop()  # the worker lets the background task finish before it ends
        assert w.wait() == 0
        assert "background task: ran" in w.stderr_text()
    finally:
        w.close()


def test_django_asgi_handler():
    w = worker_with("django", "django_asgi:application")
    try:
        assert w.ready_info["lifespan"] == "unsupported"
        r = w.get_on(0, "/sync?q=1")
        assert r.status == "200 OK" and r.json() == {"path": "/sync", "script_name": "", "q": "1"}
        r = w.get_on(1, "/app/sync", SCRIPT_NAME="/app", PATH_INFO="/sync")
        assert r.json()["path"] == "/app/sync" and r.json()["script_name"] == "/app"
        assert w.get_on(2, "/async").body == b"async ok"
        assert w.get_on(3, "/echo", method="POST", body=b"x" * 100000).body == b"x" * 100000
        assert w.get_on(3, "/missing").status == "404 Not Found"
    finally:
        w.close()
