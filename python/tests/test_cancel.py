"""CANCEL: the gateway's word that the running request's client is gone."""

from harness import ABORT, CANCEL, LOG, RDATA, RESPONSE, frame


def test_cancel_stops_a_streaming_response_and_closes_it(w):
    w.request("/endless")
    sock = w.chans[0]
    ftype, _ = w.read_frame(sock)
    while ftype == LOG:
        ftype, _ = w.read_frame(sock)
    assert ftype == RESPONSE
    w.send(0, frame(CANCEL))
    logs, frames = [], 0
    while True:
        ftype, payload = w.read_frame(sock)
        if ftype == ABORT:
            break
        if ftype == LOG:
            logs.append(payload[1:].decode())
        else:
            assert ftype == RDATA
            frames += 1
            assert frames < 1000, "the response went on after CANCEL"
    assert any("close() called" in line for line in logs), logs
    # the channel serves the next request
    assert w.get("/hello").body == b"hello"


def test_a_cancel_for_a_request_already_ended_is_ignored(w):
    assert w.get("/hello").body == b"hello"
    w.send(0, frame(CANCEL))
    resp = w.get("/hello")
    assert resp.status == "200 OK" and resp.body == b"hello"
