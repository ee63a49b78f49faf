"""Lifespan variants: complete (with state), failed, raising, returning at once, and a shutdown
that reports on stderr. The HTTP side answers with scope["state"] as JSON."""
import json
import sys


async def http(scope, receive, send):
    state = scope.get("state")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body",
                "body": json.dumps(state if state is None else {k: repr(v) for k, v in state.items()}).encode()})


async def ok(scope, receive, send):
    if scope["type"] != "lifespan":
        scope["state"]["mutated"] = True  # a copy per request: the next one does not see it
        return await http(scope, receive, send)
    assert (await receive())["type"] == "lifespan.startup"
    scope["state"]["db"] = "connected"
    await send({"type": "lifespan.startup.complete"})
    assert (await receive())["type"] == "lifespan.shutdown"
    sys.stderr.write("lifespan shutdown ran\n")
    sys.stderr.flush()
    await send({"type": "lifespan.shutdown.complete"})


async def failed(scope, receive, send):
    if scope["type"] != "lifespan":
        return await http(scope, receive, send)
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "database unreachable"})


async def raises(scope, receive, send):
    if scope["type"] != "lifespan":
        return await http(scope, receive, send)
    await receive()
    raise ConnectionError("cannot reach the cache")


async def unsupported(scope, receive, send):
    if scope["type"] == "lifespan":
        raise ValueError("only http here")
    return await http(scope, receive, send)


async def returns(scope, receive, send):
    if scope["type"] == "lifespan":
        return
    return await http(scope, receive, send)


async def shutdown_fails(scope, receive, send):
    if scope["type"] != "lifespan":
        return await http(scope, receive, send)
    await receive()
    await send({"type": "lifespan.startup.complete"})
    await receive()
    await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
