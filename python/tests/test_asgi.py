"""ASGI over streams: the HTTP scope, receive/send, concurrency, flow control, CANCEL, TIMEOUT,
pathsend and errors (docs/worker-protocol.md, "ASGI workers: streams on one channel")."""
import json
import os
import struct
import subprocess
import sys

import pytest

import harness
from harness import (ABORT, CANCEL, DATA, END, FILE, LOG, PAUSE, RDATA, REND, RESPONSE, RESUME, TIMEOUT, WPAUSE,
                     WRESUME, frame)

SHIM = os.path.join(harness.HERE, "apps", "short_grace.py")


@pytest.fixture
def aw():
    w = harness.AsgiWorker("asgiapp:app")
    yield w
    w.close()


def test_ready_json(aw):
    info = aw.ready_info
    assert info == {"pid": aw.proc.pid, "python": "%d.%d.%d" % sys.version_info[:3] if harness.PYTHON == sys.executable
                    else info["python"], "threads": 1, "interface": "asgi", "loop": info["loop"], "streams": 100,
                    "lifespan": "unsupported"}
    assert info["loop"] in ("asyncio", "uvloop")
    assert "does not support the ASGI lifespan scope (RuntimeError: no lifespan here)" in aw.stderr_text()


def test_hello_is_one_frame(aw):
    aw.start(0, "/hello")
    sid, ftype, payload = aw.read_any()
    head = b"200 OK\0content-type\0text/plain\0content-length\x005\0"
    assert (sid, ftype) == (0, RESPONSE)
    assert payload == struct.pack("<BI", 1, len(head)) + head + b"hello"


def test_http_scope(aw):
    r = aw.get_on(5, "/mount/scope", query="a=1&b=%20", headers={"X-Latin": "caf\xe9", "Cookie": "a=b; c=d"},
                  SCRIPT_NAME="/mount", PATH_INFO="/scope", REQUEST_URI="/mount/scope?a=1&b=%20",
                  SERVER_PROTOCOL="HTTP/1.0", CONTENT_TYPE="text/x", **{"wsgi.url_scheme": "https"})
    scope = json.loads(r.body)
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.0"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "https"
    assert scope["path"] == "/mount/scope"  # the spec: root_path included, PATH_INFO is path minus root_path
    assert scope["root_path"] == "/mount"
    assert scope["raw_path"] == "/mount/scope"
    assert scope["query_string"] == "a=1&b=%20"
    assert ["x-latin", "caf\xe9"] in scope["headers"]
    assert ["cookie", "a=b; c=d"] in scope["headers"]
    assert ["content-type", "text/x"] in scope["headers"]
    assert ["host", "localhost:8000"] in scope["headers"]
    assert scope["client"] == ["127.0.0.1", 50000]
    assert scope["server"] == ["localhost", 8000]
    assert scope["state"] == {}
    assert scope["extensions"] == {"http.response.pathsend": {}}


def test_path_is_utf8_and_raw_path_is_the_request_target(aw):
    # the gateway decoded %C3%A9 to the bytes C3 A9, which the environ carries as latin-1
    r = aw.get_on(0, "/caf\xc3\xa9/scope", REQUEST_URI="/caf%C3%A9/scope")
    scope = json.loads(r.body)
    assert scope["path"] == "/caf\xe9/scope"
    assert scope["raw_path"] == "/caf%C3%A9/scope"


def test_streamed_request_body_with_more_body(aw):
    aw.start(2, "/echo", "POST", body=b"abc", complete=False)
    aw.send_frame_on(2, DATA, b"defg")
    aw.send_frame_on(2, DATA, b"hi")
    aw.send_frame_on(2, END, b"\0")
    r = aw.response_on(2)
    assert r.body == b"abcdefghi"
    assert json.loads(r.header("x-chunks")) == [[3, True], [4, True], [2, True], [0, False]]


def test_body_complete_in_request_is_one_message(aw):
    r = aw.get_on(0, "/echo", method="POST", body=b"x" * 1000)
    assert r.body == b"x" * 1000 and json.loads(r.header("x-chunks")) == [[1000, False]]


def test_large_bodies_both_ways(aw):
    # a 3 MiB body inline in REQUEST (larger than the worker's receive buffer) echoed; a 20 MiB
    # body in one http.response.body goes out as RESPONSE and DATA frames of at most 16 MiB
    body = os.urandom(3 << 20)
    aw.start(1, "/echo", "POST", body=body)
    assert aw.get_on(2, "/hello").body == b"hello"
    assert aw.response_on(1).body == body
    size = (20 << 20) + 3
    r = aw.get_on(3, "/big?size=%d" % size)
    assert r.kinds == ["RESPONSE", "DATA", "END"] and len(r.body) == size
    assert r.body[:512] == bytes(range(256)) * 2 and r.body.endswith(b"xxx")


def test_streaming_response(aw):
    r = aw.get_on(7, "/stream?n=4")
    assert r.kinds == ["RESPONSE", "DATA", "DATA", "DATA", "END"]
    assert r.body == b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n"


def test_twenty_requests_run_at_once_on_one_worker(aw):
    # each waits at a barrier that opens only when all twenty are there: served one at a time,
    # the first would never be answered
    for sid in range(20):
        aw.start(sid, "/barrier?n=20")
    answered = [aw.response_on(sid) for sid in range(20)]
    assert all(r.body == b"passed" for r in answered)


def test_twenty_sleeps_overlap(aw):
    # twenty asyncio.sleep(0.5): all twenty REQUESTs reach the app before any answer comes back
    for sid in range(20):
        aw.start(sid, "/sleep?s=0.5")
    for sid in range(20):
        assert aw.response_on(sid).body == b"slept"
    firsts = [s for s, t in aw.order if t == RESPONSE]
    assert sorted(firsts) == list(range(20))


def test_streams_interleave_and_a_stream_is_reused(aw):
    aw.start(1, "/echo", "POST", body=b"one", complete=False)
    assert aw.get_on(2, "/hello").body == b"hello"  # stream 2 answers while stream 1 waits for its body
    aw.send_frame_on(1, END, b"\0")
    assert aw.response_on(1).body == b"one"
    for _ in range(3):
        assert aw.get_on(1, "/hello").body == b"hello"


def test_worker_stops_sending_after_pause(aw):
    aw.start(0, "/paced", "POST", complete=False)
    aw.send_frame_on(0, DATA, b"first")
    ftype, payload = aw.frame(0)
    assert ftype == RESPONSE and payload.endswith(b"first")
    aw.send_frame_on(0, PAUSE)
    aw.send_frame_on(0, DATA, b"second")
    # the worker has read PAUSE and DATA before it reads this request, and answers it first
    assert aw.get_on(1, "/hello").body == b"hello"
    assert not aw.has_frame(0, wait=0.2)
    aw.send_frame_on(0, RESUME)
    assert aw.frame(0) == (RDATA, b"second")
    aw.send_frame_on(0, END, b"\0")
    assert aw.frame(0) == (REND, b"")


def test_an_app_sending_in_a_loop_still_lets_the_loop_run(aw):
    # /flood sends forever and never suspends by itself: the worker yields to its loop every 32
    # sends, so what it sent is flushed, and PAUSE, other streams and CANCEL are read
    aw.start(0, "/flood")
    assert aw.frame(0)[0] == RESPONSE
    aw.send_frame_on(0, PAUSE)
    assert aw.get_on(1, "/hello").body == b"hello"  # read after PAUSE: the flood has stopped by now
    before = len(aw.queued[0])
    assert aw.get_on(1, "/hello").body == b"hello"
    assert len(aw.queued[0]) == before  # nothing of the flood between the two
    assert all(f == RDATA for f, _ in aw.queued[0])
    aw.queued[0].clear()
    aw.send_frame_on(0, RESUME)
    for _ in range(100):  # (read_any: what comes now, not what was kept)
        assert aw.read_any()[:2] == (0, RDATA)
    aw.send_frame_on(0, CANCEL)
    while True:
        sid, ftype, _ = aw.read_any()
        assert sid == 0 and ftype in (RDATA, ABORT)
        if ftype == ABORT:
            break
    assert aw.get_on(0, "/hello").body == b"hello"


def test_worker_pauses_the_gateway_past_1_mib_and_resumes_below_256_kib(aw):
    aw.start(3, "/hold", "POST", complete=False)
    block = b"y" * 65536
    sent = 0
    while sent <= (1 << 20):
        aw.send_frame_on(3, DATA, block)
        sent += len(block)
    assert aw.frame(3) == (WPAUSE, b"")  # the app has received none of it
    aw.send_frame_on(3, END, b"\0")
    assert aw.get_on(4, "/release").body == b"released"
    assert aw.frame(3) == (WRESUME, b"")
    r = aw.response_on(3)
    assert r.body == b"%d" % sent


def test_cancel_wakes_receive_with_disconnect_and_send_raises(aw):
    aw.start(6, "/disconnect")
    assert aw.get_on(1, "/hello").body == b"hello"  # /disconnect is waiting in receive()
    aw.send_frame_on(6, CANCEL)
    r = aw.response_on(6)
    assert r.aborted and r.kinds == ["ABORT"] and not r.logs  # a client that left is no error
    seen = json.loads(aw.get_on(1, "/seen").body)
    assert seen["disconnect_message"] == {"type": "http.disconnect"}
    assert seen["send_error"] == "ClientDisconnected: client disconnected"


def test_end_reason_1_is_a_disconnect_after_the_body_received(aw):
    aw.start(2, "/disconnect", "POST", body=b"part", complete=False)
    aw.send_frame_on(2, END, b"\1")
    r = aw.response_on(2)
    assert r.aborted
    assert json.loads(aw.get_on(1, "/seen").body)["disconnect_message"] == {"type": "http.disconnect"}


def test_cancel_after_the_response_ended_is_dropped(aw):
    assert aw.get_on(0, "/hello").body == b"hello"
    aw.send_frame_on(0, CANCEL)
    assert aw.get_on(0, "/hello").body == b"hello"


def test_timeout_logs_the_stack_and_aborts_at_once(aw):
    aw.start(9, "/sleep?s=3600")
    assert aw.get_on(1, "/hello").body == b"hello"  # the sleep has begun
    aw.send_frame_on(9, TIMEOUT)
    r = aw.response_on(9)
    assert r.aborted and r.kinds == ["LOG", "ABORT"]
    level, text = r.logs[0]
    assert level == 40
    assert "Request timed out, cancelling it: GET /sleep?s=3600" in text
    assert "asgiapp.py" in text and "in app" in text and "asyncio.sleep" in text
    assert json.loads(aw.get_on(1, "/seen").body)["sleep_cancelled"] is True
    assert not aw.has_frame(9, wait=0.1)  # nothing more on the stream, which serves again
    assert aw.get_on(9, "/hello").body == b"hello"


def test_cancel_then_the_task_is_cancelled_after_the_grace():
    # the 5 s grace, shortened by a test shim (apps/short_grace.py) that sets the module constant
    w = ShortGraceWorker()
    try:
        w.start(4, "/ignore-disconnect")
        assert w.get_on(0, "/hello").body == b"hello"
        w.send_frame_on(4, CANCEL)
        r = w.response_on(4)
        assert r.aborted and not r.logs
        assert json.loads(w.get_on(0, "/seen").body)["ignore_cancelled"] is True
    finally:
        w.close()


class ShortGraceWorker(harness.AsgiWorker):
    def __init__(self):
        old = harness.WORKER
        harness.WORKER = SHIM
        try:
            harness.AsgiWorker.__init__(self, "asgiapp:app")
        finally:
            harness.WORKER = old


@pytest.mark.parametrize("ack", [1, 0])
def test_pathsend(aw, tmp_path, ack):
    path = tmp_path / "file.txt"
    data = b"file contents\n" * 10000
    path.write_bytes(data)
    aw.start(3, "/pathsend?path=%s" % path)
    r = aw.response_on(3, file_ack=ack)
    assert r.status == "200 OK" and r.header("content-type") == "text/plain"
    assert r.files == [(0, -1, str(path), data if ack else None)]
    assert r.body == data  # read by the "gateway" on 1, sent as DATA by the worker on 0
    assert r.kinds[-1] == "END" and ("DATA" in r.kinds) == (not ack)


def test_timeout_while_waiting_for_file_ack(aw, tmp_path):
    path = tmp_path / "file.txt"
    path.write_bytes(b"data")
    aw.start(3, "/pathsend?path=%s" % path)
    assert aw.frame(3)[0] == RESPONSE
    assert aw.frame(3)[0] == FILE
    aw.send_frame_on(3, TIMEOUT)
    r = aw.response_on(3)
    assert r.kinds == ["LOG", "ABORT"] and "timed out" in r.log_text
    aw.send_frame_on(3, harness.FILE_ACK, b"\1")  # the ack of the FILE still comes: dropped
    assert aw.get_on(3, "/hello").body == b"hello"


def test_pathsend_of_a_missing_file_is_a_500(aw, tmp_path):
    r = aw.get_on(0, "/pathsend?path=%s" % (tmp_path / "missing"))
    assert r.status == "500 Internal Server Error" and "FileNotFoundError" in r.log_text


def test_error_before_the_head_is_a_500_with_the_traceback(aw):
    r = aw.get_on(2, "/error-before")
    assert r.kinds == ["LOG", "RESPONSE"]
    assert r.status == "500 Internal Server Error" and r.body == b"Internal Server Error\n"
    level, text = r.logs[0]
    assert level == 40 and text.startswith("Error handling request GET /error-before\nTraceback")
    assert "ValueError: failed before the head" in text


def test_error_after_the_head_is_an_abort(aw):
    r = aw.get_on(2, "/error-after")
    assert r.kinds == ["RESPONSE", "LOG", "ABORT"] and r.body == b"partial"
    assert "ValueError: failed after the head" in r.log_text


def test_returning_without_a_response_is_a_500(aw):
    for path in ("/no-response", "/start-only"):
        r = aw.get_on(0, path)
        assert r.status == "500 Internal Server Error", r
        assert r.log_text == "Error handling request GET %s\nASGI app returned without sending a response" % path


def test_returning_after_the_head_without_ending_is_an_abort(aw):
    aw.start(0, "/paced", "POST", complete=False)
    aw.send_frame_on(0, DATA, b"first")
    assert aw.frame(0)[0] == RESPONSE
    aw.send_frame_on(0, END, b"\1")  # /paced returns at the disconnect without ending its response
    r = aw.response_on(0)
    assert r.aborted and not r.logs  # the client left: no error to report


def test_returning_after_the_head_without_ending_logs_and_aborts(aw):
    r = aw.get_on(0, "/half")
    assert r.kinds == ["RESPONSE", "LOG", "ABORT"] and r.body == b"half"
    assert r.log_text == "Error handling request GET /half\nASGI app returned without ending the response"


def test_error_after_the_response_goes_to_stderr(aw):
    r = aw.get_on(0, "/after-end")
    assert r.body == b"done" and r.kinds == ["RESPONSE"]
    assert aw.get_on(0, "/hello").body == b"hello"  # the failure came before this one was read
    assert "Error after the response to GET /after-end" in aw.stderr_text()
    assert "ValueError: failed after the response" in aw.stderr_text()


def test_stop_lets_streams_finish_then_ends_the_channel(aw):
    aw.start(4, "/sleep?s=0.2")
    aw.stop()
    assert aw.response_on(4).body == b"slept"
    assert aw.chans[0].recv(1) == b""  # shutdown(SHUT_WR) after the last response
    assert aw.wait() == 0


def test_a_request_written_before_stop_is_served(aw):
    aw.start(4, "/hello")
    aw.stop()
    assert aw.response_on(4).body == b"hello"
    assert aw.wait() == 0


def test_end_of_file_on_control_exits_at_once(aw):
    aw.start(4, "/sleep?s=3600")
    aw.ctl.close()
    assert aw.proc.wait(harness.TIMEOUT) == 0


def test_stream_id_out_of_range_is_a_protocol_error():
    w = harness.AsgiWorker("asgiapp:app", streams=4)
    try:
        assert w.ready_info["streams"] == 4
        assert w.get_on(3, "/hello").body == b"hello"
        w.send(0, harness.stream_frame(4))
        assert w.proc.wait(harness.TIMEOUT) == 70
        assert "STREAM 4 out of range (4 streams)" in w.stderr_text()
    finally:
        w.close()


def test_asgi_app_under_debian_python_with_uvloop():
    python = "/usr/bin/python3"
    if subprocess.call([python, "-c", "import uvloop"], stderr=subprocess.DEVNULL) != 0:
        pytest.skip("%s has no uvloop" % python)
    old = harness.PYTHON
    harness.PYTHON = python
    try:
        w = harness.AsgiWorker("asgiapp:app")
    finally:
        harness.PYTHON = old
    try:
        assert w.ready_info["loop"] == "uvloop"
        for sid in range(20):
            w.start(sid, "/barrier?n=20")
        assert all(w.response_on(sid).body == b"passed" for sid in range(20))
        w.start(1, "/sleep?s=3600")
        assert w.get_on(2, "/hello").body == b"hello"
        w.send_frame_on(1, TIMEOUT)
        r = w.response_on(1)
        assert r.aborted and "asyncio.sleep" in r.log_text
        w.stop()
        assert w.wait() == 0
    finally:
        w.close()
