"""Process lifecycle: STOP, end of file on the channels, protocol errors (exit 70)."""
import struct
import time

import pytest

import harness
from harness import frame, request_frame, make_environ


def test_stop_when_idle_exits_0(spawn):
    w = spawn("testapp", threads=2)
    assert w.get("/hello").body == b"hello"
    t0 = time.monotonic()
    w.stop()
    assert w.wait() == 0
    assert time.monotonic() - t0 < 1.0
    assert w.chans[0].recv(1) == b"" and w.chans[1].recv(1) == b""


def test_stop_finishes_in_flight_requests(spawn):
    w = spawn("testapp", threads=2)
    w.request("/sleep", chan=0, query="s=0.4")
    time.sleep(0.1)
    w.stop()
    assert w.chans[1].recv(1) == b""  # the idle thread ends
    assert w.proc.poll() is None
    r = w.response(0)
    assert r.body == b"slept warpipe-0" and r.kinds == ["RESPONSE"]
    assert w.wait() == 0


def test_stop_serves_a_request_sent_before_it(spawn):
    w = spawn("testapp")
    w.request("/hello")
    w.stop()
    assert w.response().body == b"hello"
    assert w.wait() == 0


def test_stop_waits_for_a_streamed_body(spawn):
    w = spawn("testapp")
    w.send(0, request_frame(make_environ("/echo", "POST", query="mode=read"), b"ab", complete=False))
    time.sleep(0.1)
    w.stop()
    time.sleep(0.3)
    w.send_frame(0, harness.DATA, b"cd")
    w.send_frame(0, harness.END, b"\0")
    assert w.response().json()["data"] == "abcd"
    assert w.wait() == 0


def test_control_eof_exits_at_once(spawn):
    w = spawn("testapp")
    w.request("/sleep", query="s=3")
    time.sleep(0.1)
    t0 = time.monotonic()
    w.ctl.close()
    w.wait()
    assert time.monotonic() - t0 < 1.0


def test_all_request_channels_closed_exits_0(spawn):
    w = spawn("testapp", threads=2)
    w.ins[0].close()
    assert w.chans[0].recv(1) == b""  # the thread ended and closed its side
    assert w.get("/hello", chan=1).body == b"hello"
    assert w.proc.poll() is None
    w.ins[1].close()
    assert w.wait() == 0


@pytest.mark.parametrize("chan, data, why", [
    (0, frame(0x7F, b"?"), "0x7f where a REQUEST was expected"),
    (0, frame(harness.DATA, b"x"), "0x02 where a REQUEST was expected"),
    (0, struct.pack("<IB", 0x01000001, harness.REQUEST), "exceeds 16 MiB"),
    (0, frame(harness.REQUEST, b"\1\0"), "REQUEST frame too short"),
    (0, frame(harness.REQUEST, struct.pack("<BI", 1, 100) + b"a\0"), "overruns"),
    (0, frame(harness.REQUEST, struct.pack("<BI", 1, 2) + b"a\0"), "malformed environ block"),
    (0, frame(harness.REQUEST, struct.pack("<BI", 1, 3) + b"a\0b"), "malformed environ block"),
    (0, request_frame(make_environ("/hello"), b"", complete=False) + frame(harness.END, b"\7"), None),
    (None, frame(0x55), "on the control channel"),
    (None, frame(harness.STOP, b"x"), "on the control channel"),
])
def test_protocol_error_exits_70(spawn, chan, data, why):
    w = spawn("testapp")
    if chan is None:
        w.ctl.sendall(data)
    else:
        w.send(chan, data)
    assert w.wait() == 70
    err = w.stderr_text()
    assert "protocol error" in err
    if why:
        assert why in err


def test_protocol_error_while_reading_a_body(spawn):
    w = spawn("testapp")
    w.send(0, request_frame(make_environ("/echo", "POST", query="mode=read"), b"", complete=False))
    w.send_frame(0, harness.FILE_ACK, b"\1")
    assert w.wait() == 70
    assert "while reading a request body" in w.stderr_text()


def test_app_subprocesses_do_not_inherit_channels(spawn, tmp_path):
    code = ("import os, stat; print([fd for fd in range(3, 12) if os.path.exists('/proc/self/fd/%d' % fd) "
            "and stat.S_ISSOCK(os.stat('/proc/self/fd/%d' % fd).st_mode)])")
    (tmp_path / "child.py").write_text(
        "import subprocess, sys\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    out = subprocess.run([sys.executable, '-c', %r], close_fds=False, capture_output=True)\n"
        "    return [out.stdout]\n" % code)
    w = spawn("child", cwd=str(tmp_path), threads=2)
    assert w.get("/").body.strip() == b"[]"
