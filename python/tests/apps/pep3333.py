"""An app that asserts the PEP 3333 environ rules, then answers 'ok'."""
import sys


def application(environ, start_response):
    assert type(environ) is dict
    for key, value in environ.items():
        assert type(key) is str, key
        if "." not in key:
            assert type(value) is str, (key, value)
            value.encode("latin-1")  # native strings hold bytes as latin-1 code points
    for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL"):
        assert key in environ, key
    assert "HTTP_CONTENT_TYPE" not in environ and "HTTP_CONTENT_LENGTH" not in environ
    assert environ["SCRIPT_NAME"] == "" or environ["SCRIPT_NAME"].startswith("/")
    assert environ["PATH_INFO"] == "" or environ["PATH_INFO"].startswith("/")
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] in ("http", "https")
    for flag in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated"):
        assert type(environ[flag]) is bool, flag
    inp, err = environ["wsgi.input"], environ["wsgi.errors"]
    for name in ("read", "readline", "readlines", "__iter__"):
        assert hasattr(inp, name), name
    for name in ("write", "writelines", "flush"):
        assert hasattr(err, name), name
    assert callable(environ["wsgi.file_wrapper"])
    body = inp.read(int(environ.get("CONTENT_LENGTH") or 0))
    assert type(body) is bytes
    assert inp.read(1) == b""
    status = "200 OK"
    write = start_response(status, [("Content-Type", "text/plain")])
    assert callable(write)
    return [b"ok ", environ["wsgi.url_scheme"].encode(), b" ", str(len(body)).encode()]
