"""ASGI app forms for detection (--interface auto) and the boot errors."""
import functools


async def plain(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope.get("form", "plain").encode()})


class App:
    async def __call__(self, scope, receive, send):
        await plain(dict(scope, form="instance"), receive, send)


instance = App()


async def with_name(scope, receive, send, name):
    await plain(dict(scope, form=name), receive, send)


partial = functools.partial(with_name, name="partial")


class Named:
    async def __call__(self, scope, receive, send, name="unnamed"):
        await plain(dict(scope, form=name), receive, send)


partial_instance = functools.partial(Named(), name="partial instance")


class Asgi2:
    """ASGI 2: a callable returning an instance that takes receive and send (not supported)."""

    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        await plain(self.scope, receive, send)


def wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi"]
