"""ASGI WebSockets on a stream: REQUEST with the websocket flag, WS_* frames, denial responses."""
import json
import struct

import pytest

import harness
from harness import (PAUSE, REND, RESUME, WS_ACCEPT, WS_CLOSE, WS_CLOSED, WS_RECEIVE, WS_SEND,
                     ws_closed, ws_receive)

WS_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
              "Sec-WebSocket-Version": "13"}


@pytest.fixture
def aw():
    w = harness.AsgiWorker("asgiapp:app")
    yield w
    w.close()


def open_ws(w, sid, path="/ws/echo", headers=None, **kw):
    w.start(sid, path, websocket=True, headers=dict(WS_HEADERS, **(headers or {})), **kw)


def test_websocket_scope(aw):
    open_ws(aw, 1, "/ws/scope", headers={"Sec-WebSocket-Protocol": "chat, superchat"},
            **{"wsgi.url_scheme": "https"})
    r = aw.response_on(1)
    scope = json.loads(r.body)
    assert scope["type"] == "websocket" and "method" not in scope
    assert scope["scheme"] == "wss"
    assert scope["subprotocols"] == ["chat", "superchat"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["path"] == "/ws/scope" and scope["http_version"] == "1.1"


def test_accept_echo_and_client_close(aw):
    open_ws(aw, 2, headers={"Sec-WebSocket-Protocol": "chat"})
    ftype, payload = aw.frame(2)
    assert ftype == WS_ACCEPT and payload == b"chat\0x-ws\0yes\0"
    aw.send_frame_on(2, WS_RECEIVE, ws_receive("h\xe9llo"))
    assert aw.frame(2) == (WS_SEND, b"\x01" + "h\xe9llo".encode())
    aw.send_frame_on(2, WS_RECEIVE, ws_receive(b"\x00\xffbin"))
    assert aw.frame(2) == (WS_SEND, b"\x00\x00\xffbin")
    aw.send_frame_on(2, WS_CLOSED, ws_closed(1001, "going away"))
    assert aw.frame(2) == (REND, b"")
    seen = json.loads(aw.get_on(0, "/seen").body)
    assert seen["ws_disconnect"] == {"type": "websocket.disconnect", "code": 1001, "reason": "going away"}
    assert seen["ws_send_error"] == "ClientDisconnected"


def test_fragments_with_more_are_one_message(aw):
    open_ws(aw, 0)
    assert aw.frame(0)[0] == WS_ACCEPT
    aw.send_frame_on(0, WS_RECEIVE, ws_receive("one ", more=True))
    aw.send_frame_on(0, WS_RECEIVE, ws_receive("two ", text=True, more=True))
    aw.send_frame_on(0, WS_RECEIVE, ws_receive("three", text=True))
    assert aw.frame(0) == (WS_SEND, b"\x01one two three")
    aw.send_frame_on(0, WS_RECEIVE, ws_receive(b"a", more=True))
    aw.send_frame_on(0, WS_RECEIVE, ws_receive(b"b"))
    assert aw.frame(0) == (WS_SEND, b"\x00ab")
    aw.send_frame_on(0, WS_CLOSED, ws_closed(1006))
    assert aw.frame(0) == (REND, b"")


def test_close_before_accept(aw):
    open_ws(aw, 3, "/ws/deny")
    assert aw.frame(3) == (WS_CLOSE, struct.pack("<H", 1000))
    assert aw.frame(3) == (REND, b"")


def test_denial_response(aw):
    open_ws(aw, 3, "/ws/http")
    r = aw.response_on(3)
    assert r.status == "401 Unauthorized" and r.body == b"no entry" and r.kinds == ["RESPONSE", "DATA", "END"]


def test_app_closes_with_a_code_and_sees_the_disconnect(aw):
    open_ws(aw, 4, "/ws/close")
    assert aw.frame(4) == (WS_ACCEPT, b"\0x-ws\0yes\0")
    assert aw.frame(4) == (WS_CLOSE, struct.pack("<H", 4000) + b"bye")
    aw.send_frame_on(4, WS_CLOSED, ws_closed(4000, "bye"))
    assert aw.frame(4) == (REND, b"")
    assert json.loads(aw.get_on(0, "/seen").body)["ws_close"] == {"type": "websocket.disconnect", "code": 4000,
                                                                  "reason": "bye"}


def test_app_error_is_an_abort_with_the_traceback(aw):
    open_ws(aw, 5, "/ws/raise")
    assert aw.frame(5)[0] == WS_ACCEPT
    r = aw.response_on(5)
    assert r.aborted and "RuntimeError: websocket app failed" in r.log_text
    assert r.logs[0][1].startswith("Error handling WebSocket GET /ws/raise")


def test_pause_holds_websocket_sends(aw):
    open_ws(aw, 6)
    assert aw.frame(6)[0] == WS_ACCEPT
    aw.send_frame_on(6, PAUSE)
    aw.send_frame_on(6, WS_RECEIVE, ws_receive("held"))
    assert aw.get_on(1, "/hello").body == b"hello"  # PAUSE and the message were read before this
    assert not aw.has_frame(6, wait=0.2)
    aw.send_frame_on(6, RESUME)
    assert aw.frame(6) == (WS_SEND, b"\x01held")
    aw.send_frame_on(6, WS_CLOSED, ws_closed(1000))
    assert aw.frame(6) == (REND, b"")


def test_worker_pauses_a_websocket_whose_app_does_not_receive(aw):
    open_ws(aw, 7)
    assert aw.frame(7)[0] == WS_ACCEPT
    aw.send_frame_on(7, PAUSE)  # the app's echo waits in send(), so it stops receiving
    block = "z" * 65536
    for _ in range(20):
        aw.send_frame_on(7, WS_RECEIVE, ws_receive(block))
    assert aw.frame(7) == (harness.WPAUSE, b"")  # 1 MiB the app has not received
    aw.send_frame_on(7, RESUME)
    kinds = []
    while kinds.count(WS_SEND) < 20:
        ftype, payload = aw.frame(7)
        assert ftype in (WS_SEND, harness.WRESUME), ftype
        assert ftype != WS_SEND or payload == b"\x01" + block.encode()
        kinds.append(ftype)
    assert kinds.count(harness.WRESUME) == 1  # below 256 KiB again
    aw.send_frame_on(7, WS_CLOSED, ws_closed(1000))
    assert aw.frame(7) == (REND, b"")


def test_websocket_message_larger_than_a_frame_goes_in_pieces():
    # 16 MiB + 10 bytes, received in two pieces: sent back in two WS_SEND frames, the first with *more*
    w = harness.AsgiWorker("asgiapp:app")
    try:
        open_ws(w, 0)
        assert w.frame(0)[0] == WS_ACCEPT
        size = (16 << 20) + 10
        data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        pieces = [data[:8 << 20], data[8 << 20:]]
        w.send_frame_on(0, WS_RECEIVE, ws_receive(pieces[0], more=True))
        w.send_frame_on(0, WS_RECEIVE, ws_receive(pieces[1]))
        # the whole message is received at once: the worker pauses the gateway (16 MiB the app has
        # not received yet), and resumes it when the app took it
        assert w.frame(0, timeout=30) == (harness.WPAUSE, b"")
        assert w.frame(0, timeout=30) == (harness.WRESUME, b"")
        first = w.frame(0, timeout=30)
        second = w.frame(0, timeout=30)
        assert first[0] == second[0] == WS_SEND
        assert first[1][0] == 0x02 and second[1][0] == 0x00
        assert len(first[1]) <= (16 << 20)
        assert first[1][1:] + second[1][1:] == data
    finally:
        w.close()
