"""Requests: environ, wsgi.input, start_response, response frames, errors, file_wrapper, threads."""
import os
import select
import struct
import time

import pytest

import harness
from harness import DATA, END, request_frame, make_environ

TEXT = [("Content-Type", "text/plain")]
BODY = b"line1\nline two\n\nlast-no-newline"


def test_hello_is_one_frame(w):
    w.request("/hello")
    ftype, payload = w.read_frame(w.chans[0])
    head = b"200 OK\0Content-Type\0text/plain\0Content-Length\x005\0"
    assert ftype == harness.RESPONSE
    assert payload == struct.pack("<BI", 1, len(head)) + head + b"hello"


def test_many_requests_on_one_channel(w):
    for _ in range(50):
        assert w.get("/hello").body == b"hello"
    assert w.get("/nowhere").status == "404 Not Found"


def test_environ_contents_and_types(spawn):
    w = spawn("testapp")
    r = w.get("/environ", query="a=1&b=%20", headers={"X-Latin": "caf\xe9", "Accept": "*/*"},
              **{"wsgi.url_scheme": "https", "SCRIPT_NAME": "/mount"})
    env = r.json()
    assert env["REQUEST_METHOD"] == ["str", "GET"]
    assert env["SCRIPT_NAME"] == ["str", "/mount"]
    assert env["PATH_INFO"] == ["str", "/environ"]
    assert env["QUERY_STRING"] == ["str", "a=1&b=%20"]
    assert env["HTTP_X_LATIN"] == ["str", "caf\xe9"]  # latin-1 native string
    assert env["HTTP_ACCEPT"] == ["str", "*/*"]
    assert env["wsgi.version"] == ["tuple", [1, 0]]
    assert env["wsgi.url_scheme"] == ["str", "https"]
    assert env["wsgi.multithread"] == ["bool", False]
    assert env["wsgi.multiprocess"] == ["bool", True]
    assert env["wsgi.run_once"] == ["bool", False]
    assert env["wsgi.input_terminated"] == ["bool", True]
    assert env["wsgi.input"][0] == "EmptyInput"  # no body; one in REQUEST: BytesIO; streamed: Input
    assert w.get("/environ", body=b"x").json()["wsgi.input"][0] == "BytesIO"
    assert env["wsgi.errors"][0] == "ErrorStream"
    assert env["wsgi.file_wrapper"][0] == "type"
    assert "CONTENT_LENGTH" not in env
    assert spawn("testapp", threads=2).get("/environ").json()["wsgi.multithread"] == ["bool", True]


@pytest.mark.parametrize("validate", [False, True])
def test_pep3333_environ_rules(spawn, validate):
    w = spawn("pep3333", validate=validate)
    assert w.get("/").body == b"ok http 0"
    assert w.get("/x", body=b"12345", **{"wsgi.url_scheme": "https"}).body == b"ok https 5"
    w.request("/", body=b"abc", complete=False, CONTENT_LENGTH="6")
    w.send_frame(0, DATA, b"def")
    w.send_frame(0, END, b"\0")
    assert w.response().body == b"ok http 6"


def test_validate_mode(spawn):
    w = spawn("testapp", validate=True)
    assert w.get("/hello").body == b"hello"
    assert w.get("/gen").body == b"abbccc"
    assert w.get("/echo", query="mode=readn&n=4", body=BODY).json()["chunks"] == ["line", "1\nli", "ne t", "wo\n\n",
                                                                                  "last", "-no-", "newl", "ine"]
    r = w.get("/nonbytes")
    assert r.status.startswith("500") and "AssertionError" in r.log_text


def expected(mode, n):
    text = BODY.decode("latin-1")
    lines = BODY.splitlines(keepends=True)
    if mode in ("read", "cl"):
        return {"data": text}
    if mode in ("readn", "readinto"):
        return {"chunks": [text[i:i + n] for i in range(0, len(text), n)]}
    if mode == "readline_n":
        out = []
        for line in lines:
            out += [line[i:i + n].decode("latin-1") for i in range(0, len(line), n)]
        return {"lines": out}
    if mode == "readlines_hint":
        return {"lines": [lines[0].decode(), lines[1].decode()]}
    return {"lines": [line.decode() for line in lines]}


MODES = [("read", 0), ("cl", 0), ("readn", 4), ("readn", 1), ("readn", 1000), ("readline", 0), ("readline_n", 3),
         ("readlines", 0), ("readlines_hint", 8), ("iter", 0), ("readinto", 5)]


@pytest.mark.parametrize("mode, n", MODES)
def test_input_inline_body(w, mode, n):
    out = w.get("/echo", query="mode=%s&n=%d" % (mode, n), body=BODY).json()
    for key, value in expected(mode, n).items():
        assert out[key] == value, (key, out)
    assert out["readable"] is True
    if mode == "read":
        assert out["again"] == ""


@pytest.mark.parametrize("mode, n", MODES)
def test_input_streamed_across_frames(w, mode, n):
    env = make_environ("/echo", "POST", query="mode=%s&n=%d" % (mode, n), CONTENT_LENGTH=str(len(BODY)))
    pieces = [BODY[3:5], b"", BODY[5:9], BODY[9:16], BODY[16:17], BODY[17:]]
    w.send(0, request_frame(env, BODY[:3], complete=False) + b"".join(harness.frame(DATA, p) for p in pieces)
           + harness.frame(END, b"\0"))
    out = w.response().json()
    for key, value in expected(mode, n).items():
        assert out[key] == value, (key, out)
    assert w.get("/hello").body == b"hello"


def test_input_waits_for_data_frames(w):
    env = make_environ("/echo", "POST", query="mode=readline")
    w.send(0, request_frame(env, b"", complete=False))
    for piece in (b"ab", b"c\nde", b"f"):
        time.sleep(0.05)
        w.send_frame(0, DATA, piece)
    time.sleep(0.05)
    w.send_frame(0, END, b"\0")
    assert w.response().json()["lines"] == ["abc\n", "def"]


def test_read1(w):
    env = make_environ("/echo", "POST", query="mode=read1&n=3")
    w.send(0, request_frame(env, b"abcd", complete=False) + harness.frame(DATA, b"efg") + harness.frame(END, b"\0"))
    assert w.response().json()["chunks"] == ["abc", "d", "efg"]


def test_large_inline_body_and_large_data_frame(w):
    big = bytes(range(256)) * 2048  # 512 KiB: larger than the worker's receive buffer
    out = w.get("/echo", query="mode=cl", body=big).json()
    assert out["data"].encode("latin-1") == big
    env = make_environ("/echo", "POST", query="mode=read")
    w.send(0, request_frame(env, b"x", complete=False) + harness.frame(DATA, big) + harness.frame(END, b"\0"))
    assert w.response().json()["data"].encode("latin-1") == b"x" + big


def test_cut_body_raises_oserror(w):
    env = make_environ("/echo", "POST", query="mode=read", CONTENT_LENGTH="100")
    w.send(0, request_frame(env, b"abc", complete=False) + harness.frame(DATA, b"def") + harness.frame(END, b"\1"))
    assert w.response().json()["error"] == ["ClientDisconnected", "client disconnected", True]
    # data received before the cut is still readable
    env = make_environ("/echo", "POST", query="mode=partial&n=5", CONTENT_LENGTH="100")
    w.send(0, request_frame(env, b"abc", complete=False) + harness.frame(DATA, b"def") + harness.frame(END, b"\1"))
    out = w.response().json()
    assert out["data"] == "abcde" and "error" not in out
    assert w.get("/hello").body == b"hello"


@pytest.mark.parametrize("before", [True, False])
def test_unread_body_is_drained(w, before):
    env = make_environ("/noread", "POST", CONTENT_LENGTH="1000000")
    w.send(0, request_frame(env, b"x" * 1000, complete=False))
    more = harness.frame(DATA, b"y" * 100000) * 3 + harness.frame(END, b"\1")
    if before:
        w.send(0, more)
    r = w.response()
    assert r.body == b"ignored the body" and r.kinds == ["RESPONSE"]
    if not before:
        w.send(0, more)
    assert w.get("/hello").body == b"hello"
    assert w.get("/echo", query="mode=read", body=b"next").json()["data"] == "next"


def test_write_callable(w):
    r = w.get("/write")
    assert r.kinds == ["RESPONSE", "DATA", "DATA", "END"]
    assert r.body == b"one,two,three"


def test_generator_sends_chunks_as_produced(w):
    r = w.get("/gen")
    assert r.kinds == ["RESPONSE", "DATA", "DATA", "END"]
    assert r.body == b"abbccc"
    r = w.get("/gen_lazy")
    assert (r.status, r.body, r.kinds) == ("201 Created", b"late", ["RESPONSE", "END"])


def test_final_block_goes_with_the_end(w):
    """A block that completes Content-Length, or the last of a list iterator, travels with the
    end of the response (one frame, one send), not as RESPONSE then END."""
    r = w.get("/gen_cl", query="blocks=abcd")
    assert (r.kinds, r.body, r.header("Content-Length")) == (["RESPONSE"], b"abcd", "4")
    r = w.get("/gen_cl", query="blocks=ab,,cd")
    assert (r.kinds, r.body) == (["RESPONSE", "DATA", "END"], b"abcd")
    r = w.get("/gen_cl", query="blocks=ab,cd&cl=2")  # more than declared: sent as is
    assert (r.kinds, r.body) == (["RESPONSE", "DATA", "END"], b"abcd")
    r = w.get("/gen_cl", query="blocks=ab,cd&cl=9")  # less: nothing is known to be final
    assert (r.kinds, r.body) == (["RESPONSE", "DATA", "END"], b"abcd")
    r = w.get("/list_backed")  # iterates a list [b"x", b"", b"yz"]: no app code runs to find the end
    assert (r.kinds, r.body) == (["RESPONSE", "LOG", "DATA", "END"], b"xyz")  # close() logs before the end
    r = w.get("/list_backed", query="one=1")
    assert (r.kinds, r.body, r.logs) == (["LOG", "RESPONSE"], b"xyz", [(40, "close() called")])


def test_held_final_block_is_committed(w):
    """start_response(exc_info) after the final block was held must not mix two heads' bodies."""
    r = w.get("/gen_cl", query="blocks=ab&fail=1")
    assert r.status == "500 Internal Server Error" and r.body == b"Internal Server Error\n"
    assert "failed after the body" in r.log_text


@pytest.mark.parametrize("path, status", [("/empty", "204 No Content"), ("/empty_gen", "200 OK")])
def test_empty_body(w, path, status):
    r = w.get(path)
    assert (r.status, r.body, r.kinds) == (status, b"", ["RESPONSE"])


def test_large_response_is_split(w):
    n = max_payload = 0x01000000
    for gen in ("", "&gen=1"):
        w.request("/big?n=%d%s" % (n + 1000, gen))
        sizes, kinds = [], []
        while True:
            ftype, payload = w.read_frame(w.chans[0])
            kinds.append(ftype)
            sizes.append(len(payload))
            if ftype == harness.REND:
                break
        assert kinds == [harness.RESPONSE, harness.RDATA, harness.REND]
        assert max(sizes) <= max_payload and sum(sizes[:2]) > n + 1000


def test_start_response_twice(w):
    r = w.get("/twice")
    assert r.status == "500 Internal Server Error"
    assert "start_response() called a second time without exc_info" in r.log_text
    assert w.get("/twice_caught").body == b"caught: start_response() called a second time without exc_info"


def test_exc_info_replaces_headers_before_they_are_sent(w):
    r = w.get("/excinfo_replace")
    assert (r.status, r.headers, r.body) == ("503 Service Unavailable", TEXT, b"replaced")


def test_exc_info_reraises_after_headers_are_sent(w):
    r = w.get("/excinfo_after")
    assert r.kinds == ["RESPONSE", "LOG", "ABORT"] and r.aborted and r.body == b"first"
    assert "KeyError: 'late failure'" in r.log_text


def test_exception_before_body_is_500(w):
    r = w.get("/raise", query="q=1")
    assert r.kinds == ["LOG", "RESPONSE"]
    assert r.status == "500 Internal Server Error"
    assert r.headers == [("Content-Type", "text/plain"), ("Content-Length", "22")]
    assert r.body == b"Internal Server Error\n"
    level, text = r.logs[0]
    assert level == 40
    assert text.splitlines()[0] == "Error handling request GET /raise?q=1"
    assert "Traceback (most recent call last)" in text and text.endswith("RuntimeError: kaboom before headers")
    assert w.get("/hello").body == b"hello"


def test_exception_after_headers_is_abort(w):
    r = w.get("/raise_after")
    assert r.kinds == ["RESPONSE", "LOG", "ABORT"] and r.body == b"partial"
    assert "Error handling request GET /raise_after" in r.log_text
    assert "RuntimeError: kaboom after headers" in r.log_text
    assert w.get("/hello").body == b"hello"


def test_system_exit_in_app_is_500(w):
    assert w.get("/exit").status.startswith("500")
    assert w.get("/hello").body == b"hello"


def test_crlf_in_header_value_is_500(w):
    r = w.get("/badheader")
    assert r.status == "500 Internal Server Error"
    assert all(k != "X-Injected" for k, _ in r.headers)
    assert "invalid value for header 'X-Bad'" in r.log_text


def test_start_response_validation(w):
    r = w.get("/badcalls")
    out = r.json()
    assert all(v != "accepted" for v in out.values()), out
    for name in ("status_bytes", "headers_tuple", "header_list_item", "header_bytes"):
        assert out[name][0] == "AssertionError", (name, out[name])
    for name in ("status_no_reason", "status_letters", "status_crlf", "header_name_space", "header_name_colon",
                 "value_lf", "value_nul", "value_nul_pair", "status_nul_pair", "value_del", "value_not_latin1", "hop_connection", "hop_te", "hop_upgrade"):
        assert out[name][0] == "ValueError", (name, out[name])
    assert "hop-by-hop" in out["hop_upgrade"][1]
    assert r.headers == [("X-Tab", "a\tb"), ("X-Latin", "caf\xe9")]


MAX_HEAD = 0x01000000 - 5  # a head block fills at most one RESPONSE frame


def test_head_that_fills_the_frame_goes_out_and_its_body_follows_in_data(w):
    n = MAX_HEAD - 15
    r = w.get("/huge_head?%d" % n)
    assert (r.status, r.kinds, len(r.header("X-Huge"))) == ("200 OK", ["RESPONSE"], n)
    r = w.get("/huge_head?%d,10" % n)  # not one frame with the head (that would exceed 16 MiB)
    assert (r.status, r.kinds, r.body) == ("200 OK", ["RESPONSE", "DATA", "END"], b"b" * 10)


@pytest.mark.parametrize("n", [MAX_HEAD - 14, 17 << 20])
def test_head_over_16_mib_is_500_and_the_worker_serves_on(w, n):
    r = w.get("/huge_head?%d,10" % n)
    assert (r.status, r.kinds) == ("500 Internal Server Error", ["LOG", "RESPONSE"]), r
    assert "ValueError: response headers of %d bytes: more than the 16 MiB" % (n + 15) in r.log_text
    assert w.get("/hello").body == b"hello"


@pytest.mark.parametrize("line", ["999 Weird", "600 Beyond", "099 Below", "000 Zero"])
def test_status_outside_100_to_599_is_500(w, line):
    r = w.get("/status?" + line.replace(" ", "%20"))
    assert (r.status, r.kinds) == ("500 Internal Server Error", ["LOG", "RESPONSE"]), r
    assert "ValueError: invalid status %r: expected a code from 100 to 599" % line in r.log_text


@pytest.mark.parametrize("line", ["100 Continue", "103 Early Hints", "599 Odd"])
def test_status_from_100_to_599_is_passed_on(w, line):  # the gateway refuses 1xx as a final status
    assert w.get("/status?" + line.replace(" ", "%20")).status == line


@pytest.mark.parametrize("path, fragment", [
    ("/nonbytes", "TypeError"), ("/nonbytes_gen", "must produce bytes, not str"),
    ("/nostart", "without calling start_response()"), ("/write_str", "write() argument must be bytes, not str"),
])
def test_bad_results_are_500(w, path, fragment):
    r = w.get(path)
    assert r.status == "500 Internal Server Error", r
    assert fragment in r.log_text


def test_close_is_always_called(w, tmp_path):
    marker = str(tmp_path / "closed")
    r = w.get("/close_ok", headers={"X-Marker": marker})
    assert r.kinds == ["RESPONSE", "DATA", "LOG", "END"] and r.body == b"xy"
    assert r.logs == [(40, "close() called")]
    assert open(marker).read() == "closed"
    os.unlink(marker)
    r = w.get("/close_fail_early", headers={"X-Marker": marker})
    assert r.kinds == ["LOG", "LOG", "RESPONSE"] and r.status.startswith("500")
    assert r.logs[0] == (40, "close() called") and "failed while iterating" in r.logs[1][1]
    assert open(marker).read() == "closed"
    r = w.get("/close_fail_late")
    assert r.kinds == ["RESPONSE", "LOG", "LOG", "ABORT"] and r.logs[0] == (40, "close() called")
    r = w.get("/close_raises")
    assert r.status.startswith("500") and "close failed" in r.log_text


def test_wsgi_errors_goes_to_log_frames(w):
    r = w.get("/errors")
    assert r.logs == [(40, "line one"), (40, "partial"), (40, "a"), (40, "b"), (40, "printed"),
                      (40, "tail without newline")]
    assert r.kinds[-1] == "RESPONSE" and r.body == b"logged"


def test_wsgi_errors_from_another_thread_goes_to_stderr(w):
    r = w.get("/errors_thread")
    assert r.logs == [(40, "from the request thread")]
    assert "from another thread" in w.stderr_text()


def test_file_wrapper_sends_file_frame(w):
    data = bytes(range(256)) * 4
    r = w.get("/file", query="offset=10")
    assert r.kinds == ["RESPONSE", "FILE", "END"] and r.status == "200 OK"
    offset, count, path, _ = r.files[0]
    assert (offset, count) == (10, -1)
    assert path.startswith("/proc/%d/fd/" % w.proc.pid)
    assert r.body == data[10:]
    r = w.get("/file", query="offset=3&cl=100")
    assert r.files[0][:2] == (3, 100) and r.body == data[3:103]


def test_file_wrapper_fallback_on_nack(w):
    data = bytes(range(256)) * 4
    w.request("/file", query="offset=24&marker=1")
    r = w.response(file_ack=0)
    assert r.kinds == ["RESPONSE", "FILE"] + ["DATA"] * 10 + ["LOG", "END"]
    assert r.body == data[24:]
    assert r.logs == [(40, "file closed=True")]


def test_file_wrapper_on_non_file_iterates(w):
    r = w.get("/file_bytesio")
    assert r.kinds == ["RESPONSE", "DATA", "DATA", "DATA", "END"] and r.body == b"0123456789" * 3


def test_body_frames_while_waiting_for_file_ack(w):
    env = make_environ("/file", "POST", query="k=1")
    w.send(0, request_frame(env, b"abc", complete=False) + harness.frame(DATA, b"def") + harness.frame(END, b"\0"))
    r = w.response()
    assert r.kinds == ["RESPONSE", "FILE", "END"] and r.body == bytes(range(256))
    assert w.get("/hello").body == b"hello"


def test_requests_written_ahead_while_waiting_for_file_ack(w):
    # pipelining: the gateway may write the next REQUESTs before it acks this one's FILE;
    # they are served afterwards, in the order written
    w.send(0, request_frame(make_environ("/file", "GET", query="offset=0"), b"", complete=True)
           + request_frame(make_environ("/hello", "GET"), b"", complete=True)
           + request_frame(make_environ("/echo", "POST", body=b"second"), b"second", complete=True)
           + request_frame(make_environ("/echo", "POST", body=b"third"), b"third", complete=True))
    r = w.response()
    assert r.kinds == ["RESPONSE", "FILE", "END"] and r.body == bytes(range(256)) * 4
    assert w.response().body == b"hello"
    assert w.response().json()["data"] == "second"
    assert w.response().json()["data"] == "third"
    assert w.get("/hello").body == b"hello"


def test_two_threads_serve_concurrently(spawn):
    w = spawn("testapp", threads=2)
    t0 = time.monotonic()
    w.request("/sleep", chan=0, query="s=0.8")
    assert w.get("/hello", chan=1).body == b"hello"
    assert not select.select([w.chans[0]], [], [], 0)[0]  # channel 0 is still sleeping
    assert w.response(0).body == b"slept warpipe-0" and time.monotonic() - t0 >= 0.8
    assert w.get("/environ", chan=1).json()["thread"] == "warpipe-1"
