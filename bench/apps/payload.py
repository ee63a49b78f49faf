"""Benchmark app: bodies of a given size, both ways. Plain PEP 3333, no framework.

GET  /10k     10 KiB text/plain body (one bytes object)
POST /echo    the request body, echoed back (GET: a short hint)
GET  /10m     10 MiB body, streamed as 160 chunks of 64 KiB (Content-Length set)
POST /upload  reads the whole request body in 64 KiB reads, answers "received N bytes"

Served by every server in bench/ as `payload:application` (or payload.py).
"""

KIB10 = b"x" * 10240
CHUNK = b"x" * 65536
MIB10_CHUNKS = 160  # 160 x 64 KiB = 10 MiB


def _read_body(environ, keep=True):
    """The request body as a list of parts (keep), or [its length] (not keep: nothing held)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    parts = []
    received = 0
    while length > 0:
        part = stream.read(min(length, 65536))
        if not part:
            break
        if keep:
            parts.append(part)
        received += len(part)
        length -= len(part)
    return parts if keep else [received]


def _download():
    for _ in range(MIB10_CHUNKS):
        yield CHUNK


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/10k":
        body = [KIB10]
        size = len(KIB10)
    elif path == "/echo":
        body = _read_body(environ) or [b"POST a body to /echo"]
        size = sum(len(p) for p in body)
    elif path == "/10m":
        body = _download()
        size = len(CHUNK) * MIB10_CHUNKS
    elif path == "/upload":
        received = _read_body(environ, keep=False)[0]
        body = [b"received %d bytes" % received]
        size = len(body[0])
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(size))])
    return body
