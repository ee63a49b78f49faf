"""Benchmark app: the smallest ASGI 3 app, "Hello, World!" for any GET (the ASGI counterpart of hello.py).

Served as `asgi_hello:app` by warpipe and uvicorn in bench/run.ts. It refuses the lifespan scope by
returning at once (the spec's "unsupported"), as an app without startup work would.
"""

START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]}
BODY = {"type": "http.response.body", "body": b"Hello, World!"}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send(START)
    await send(BODY)
