"""The smallest ASGI 3 app: GET anything, "Hello, World!" (the ASGI counterpart of bench/apps/hello.py)."""

START = {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]}
BODY = {"type": "http.response.body", "body": b"Hello, World!"}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # lifespan: returning at once means "unsupported"
    await send(START)
    await send(BODY)
