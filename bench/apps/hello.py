"""Benchmark app: the classic hello-world, plain PEP 3333, no framework.

Served by every server in bench/run.ts as `hello:application` (or hello.py).
"""

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
