"""The router app the worker tests use: PATH_INFO picks a behaviour."""
import io
import json
import os
import sys
import tempfile
import threading
import time
from urllib.parse import unquote

TEXT = [("Content-Type", "text/plain")]


def reply(start_response, body, status="200 OK", headers=None):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = [("Content-Type", "application/json")]
    start_response(status, headers or list(TEXT))
    return [body]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def environ_dump(environ, start_response):
    out = {}
    for key, value in environ.items():
        out[key] = [type(value).__name__, value if isinstance(value, (str, bool, int)) else repr(value)]
    out["wsgi.version"] = ["tuple", list(environ["wsgi.version"])]
    out["thread"] = threading.current_thread().name
    return reply(start_response, out)


def lat(data):
    return data.decode("latin-1")


def echo(environ, start_response):
    inp = environ["wsgi.input"]
    qs = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    mode, n = qs.get("mode", "read"), int(qs.get("n", "0"))
    out = {"mode": mode}
    try:
        if mode == "read":
            out["data"] = lat(inp.read())
            out["again"] = lat(inp.read())
        elif mode == "cl":
            out["data"] = lat(inp.read(int(environ.get("CONTENT_LENGTH") or 0)))
        elif mode == "readn":
            chunks = []
            while True:
                c = inp.read(n)
                if not c:
                    break
                chunks.append(lat(c))
            out["chunks"] = chunks
        elif mode == "readline":
            out["lines"] = [lat(line) for line in iter(inp.readline, b"")]
        elif mode == "readline_n":
            out["lines"] = [lat(line) for line in iter(lambda: inp.readline(n), b"")]
        elif mode == "readlines":
            out["lines"] = [lat(line) for line in inp.readlines()]
        elif mode == "readlines_hint":
            out["lines"] = [lat(line) for line in inp.readlines(n)]
        elif mode == "iter":
            out["lines"] = [lat(line) for line in inp]
        elif mode == "read1":
            chunks = []
            while True:
                c = inp.read1(n or -1)
                if not c:
                    break
                chunks.append(lat(c))
            out["chunks"] = chunks
        elif mode == "readinto":
            buf = bytearray(n)
            got = []
            while True:
                k = inp.readinto(buf)
                if not k:
                    break
                got.append(lat(bytes(buf[:k])))
            out["chunks"] = got
        elif mode == "partial":
            out["data"] = lat(inp.read(n))
        out["readable"] = getattr(inp, "readable", lambda: None)()
    except OSError as exc:
        out["error"] = [type(exc).__name__, str(exc), isinstance(exc, OSError)]
    return reply(start_response, out)


def noread(environ, start_response):
    return reply(start_response, b"ignored the body")


def write_app(environ, start_response):
    write = start_response("200 OK", list(TEXT))
    write(b"one,")
    write(b"")
    write(b"two,")
    return [b"three"]


def gen(environ, start_response):
    start_response("200 OK", list(TEXT))
    yield b"a"
    yield b""
    yield b"bb"
    yield b"ccc"


def gen_lazy(environ, start_response):
    yield b""
    start_response("201 Created", list(TEXT))
    yield b"late"


def empty(environ, start_response):
    start_response("204 No Content", [])
    return []


def empty_gen(environ, start_response):
    start_response("200 OK", list(TEXT))
    yield b""


def twice(environ, start_response):
    start_response("200 OK", list(TEXT))
    start_response("200 OK", list(TEXT))
    return [b"never"]


def twice_caught(environ, start_response):
    start_response("200 OK", list(TEXT))
    try:
        start_response("200 OK", list(TEXT))
    except AssertionError as exc:
        return [("caught: %s" % exc).encode()]
    return [b"not raised"]


def excinfo_replace(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html"), ("X-Old", "1")])
    try:
        raise ValueError("oops")
    except ValueError:
        start_response("503 Service Unavailable", list(TEXT), sys.exc_info())
    return [b"replaced"]


def excinfo_after(environ, start_response):
    start_response("200 OK", list(TEXT))
    yield b"first"
    try:
        raise KeyError("late failure")
    except KeyError:
        start_response("500 Internal Server Error", list(TEXT), sys.exc_info())
    yield b"never"


def raise_app(environ, start_response):
    raise RuntimeError("kaboom before headers")


def raise_after(environ, start_response):
    start_response("200 OK", list(TEXT))
    yield b"partial"
    raise RuntimeError("kaboom after headers")


def exit_app(environ, start_response):
    raise SystemExit(5)


def badheader(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Bad", "a\r\nX-Injected: 1")])
    return [b"never"]


BAD_CALLS = {
    "status_bytes": (b"200 OK", []),
    "status_no_reason": ("200", []),
    "status_letters": ("OK 200", []),
    "status_crlf": ("200 OK\r\nX: y", []),
    "headers_tuple": ("200 OK", (("A", "b"),)),
    "header_list_item": ("200 OK", [["A", "b"]]),
    "header_bytes": ("200 OK", [(b"A", b"b")]),
    "header_name_space": ("200 OK", [("Bad Name", "x")]),
    "header_name_colon": ("200 OK", [("Bad:", "x")]),
    "value_lf": ("200 OK", [("A", "x\ny")]),
    "value_nul": ("200 OK", [("A", "x\0y")]),
    "value_nul_pair": ("200 OK", [("A", "x\0Set-Cookie\0evil")]),  # would smuggle in a header
    "status_nul_pair": ("200 OK\0Set-Cookie\0evil", []),
    "value_del": ("200 OK", [("A", "x\x7fy")]),
    "value_not_latin1": ("200 OK", [("A", "snow \u2603")]),
    "hop_connection": ("200 OK", [("Connection", "close")]),
    "hop_te": ("200 OK", [("Transfer-Encoding", "chunked")]),
    "hop_upgrade": ("200 OK", [("upgrade", "websocket")]),
}


def badcalls(environ, start_response):
    out = {}
    for name, args in BAD_CALLS.items():
        try:
            start_response(*args)
        except (AssertionError, ValueError) as exc:
            out[name] = [type(exc).__name__, str(exc)]
        else:
            out[name] = "accepted"
    start_response("200 OK", [("X-Tab", "a\tb"), ("X-Latin", "caf\xe9")])
    return [json.dumps(out).encode()]


def gen_cl(environ, start_response):
    """A generator that declares its Content-Length, like Flask/Werkzeug: ?blocks=ab,cd&cl=N"""
    qs = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    blocks = qs.get("blocks", "abcd").split(",")
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", qs.get("cl", str(sum(map(len, blocks)))))])
    for block in blocks:
        yield block.encode()
    if "fail" in qs:
        try:
            raise RuntimeError("failed after the body")
        except RuntimeError:
            start_response("500 Oops", list(TEXT), sys.exc_info())  # too late: re-raises
            yield b"oops"


class ListBacked:
    """A Django-style response: iterates over a list it holds, has close()."""

    def __init__(self, environ, chunks):
        self.environ, self.chunks = environ, chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.environ["wsgi.errors"].write("close() called\n")


def list_backed(environ, start_response):
    start_response("200 OK", list(TEXT))
    return ListBacked(environ, [b"", b"xyz"] if environ.get("QUERY_STRING") else [b"x", b"", b"yz"])


def nonbytes(environ, start_response):
    start_response("200 OK", list(TEXT))
    return ["a str"]


def nonbytes_gen(environ, start_response):
    start_response("200 OK", list(TEXT))
    yield "a str"


def nostart(environ, start_response):
    return [b"no start_response"]


class Closing:
    """An iterable whose close() leaves a trace in wsgi.errors and, if asked, a marker file."""

    def __init__(self, environ, chunks, fail=False):
        self.environ, self.chunks, self.fail = environ, chunks, fail

    def __iter__(self):
        for c in self.chunks:
            yield c
        if self.fail:
            raise RuntimeError("failed while iterating")

    def close(self):
        self.environ["wsgi.errors"].write("close() called\n")
        marker = self.environ.get("HTTP_X_MARKER")
        if marker:
            with open(marker, "w") as f:
                f.write("closed")


class Endless(Closing):
    """Streams until stopped (an event stream whose client may leave)."""

    def __iter__(self):
        while True:
            yield b"x" * 1000
            time.sleep(0.002)


def endless(environ, start_response):
    start_response("200 OK", list(TEXT))
    return Endless(environ, [])


def close_ok(environ, start_response):
    start_response("200 OK", list(TEXT))
    return Closing(environ, [b"x", b"y"])


def close_fail_early(environ, start_response):
    start_response("200 OK", list(TEXT))
    return Closing(environ, [], fail=True)


def close_fail_late(environ, start_response):
    start_response("200 OK", list(TEXT))
    return Closing(environ, [b"x"], fail=True)


def close_raises(environ, start_response):
    class Bad(list):
        def close(self):
            raise RuntimeError("close failed")
    start_response("200 OK", list(TEXT))
    return Bad([b"body"])


def errors_app(environ, start_response):
    err = environ["wsgi.errors"]
    err.write("line one\n")
    err.write("part")
    err.write("ial")
    err.flush()
    err.writelines(["a\n", "b\n"])
    print("printed", file=err)
    err.write("tail without newline")
    start_response("200 OK", list(TEXT))
    return [b"logged"]


def file_app(environ, start_response):
    qs = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    data = bytes(range(256)) * int(qs.get("k", "4"))
    f = tempfile.TemporaryFile()
    f.write(data)
    f.seek(int(qs.get("offset", "0")))
    headers = list(TEXT)
    if "cl" in qs:
        headers.append(("Content-Length", qs["cl"]))
    start_response("200 OK", headers)
    wrapper = environ["wsgi.file_wrapper"](f, int(qs.get("blksize", "100")))
    if qs.get("marker"):
        orig = wrapper.close

        def close():
            orig()
            environ["wsgi.errors"].write("file closed=%s\n" % f.closed)
        wrapper.close = close
    return wrapper


def file_bytesio(environ, start_response):
    start_response("200 OK", list(TEXT))
    return environ["wsgi.file_wrapper"](io.BytesIO(b"0123456789" * 3), 8)


def sleep_app(environ, start_response):
    qs = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    time.sleep(float(qs.get("s", "0.5")))
    return reply(start_response, ("slept %s" % threading.current_thread().name).encode())


def big(environ, start_response):
    qs = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    n = int(qs["n"])
    start_response("200 OK", list(TEXT))
    if qs.get("gen"):
        return iter([b"x" * n])
    return [b"x" * (n // 2), b"y" * (n - n // 2)]


def write_str(environ, start_response):
    write = start_response("200 OK", list(TEXT))
    write("a str")
    return []


def errors_thread(environ, start_response):
    t = threading.Thread(target=environ["wsgi.errors"].write, args=("from another thread\n",))
    t.start()
    t.join()
    environ["wsgi.errors"].write("from the request thread\n")
    return reply(start_response, b"ok")


def huge_head(environ, start_response):
    """?N,B: a header value of N bytes (the head block is N + 15 bytes), then B bytes of body in a list."""
    n, _, b = environ["QUERY_STRING"].partition(",")
    start_response("200 OK", [("X-Huge", "h" * int(n))])
    return [b"b" * int(b or 0)]


def status_line(environ, start_response):
    start_response(unquote(environ["QUERY_STRING"]), list(TEXT))
    return [b"odd"]


def pid(environ, start_response):
    return reply(start_response, str(os.getpid()).encode())


ROUTES = {
    "/hello": hello, "/environ": environ_dump, "/echo": echo, "/noread": noread, "/write": write_app,
    "/gen": gen, "/gen_lazy": gen_lazy, "/empty": empty, "/empty_gen": empty_gen, "/twice": twice,
    "/twice_caught": twice_caught, "/excinfo_replace": excinfo_replace, "/excinfo_after": excinfo_after,
    "/raise": raise_app, "/raise_after": raise_after, "/exit": exit_app, "/badheader": badheader,
    "/badcalls": badcalls, "/nonbytes": nonbytes, "/nonbytes_gen": nonbytes_gen, "/nostart": nostart,
    "/close_ok": close_ok, "/close_fail_early": close_fail_early, "/close_fail_late": close_fail_late,
    "/close_raises": close_raises, "/errors": errors_app, "/file": file_app, "/file_bytesio": file_bytesio,
    "/gen_cl": gen_cl, "/endless": endless, "/list_backed": list_backed, "/sleep": sleep_app, "/big": big, "/pid": pid, "/write_str": write_str, "/errors_thread": errors_thread,
    "/huge_head": huge_head, "/status": status_line,
}


def application(environ, start_response):
    handler = ROUTES.get(environ.get("PATH_INFO", ""))
    if handler is None:
        return reply(start_response, b"not found", "404 Not Found")
    return handler(environ, start_response)
