"""An ASGI 3 app for the worker tests (stdlib only), routed by path:

    /hello              "hello" (the smallest response: one RESPONSE frame)
    /scope              the scope as JSON (bytes as latin-1 strings)
    /echo               the request body, read message by message; X-Chunks: the sizes and more_body flags
    /stream?n=N         N body messages of "chunk i\\n" with more_body, then an empty last one
    /barrier?n=N        answers once N requests are waiting at the barrier (concurrency, without clocks)
    /sleep?s=S          asyncio.sleep(S), then "slept"
    /paced              streams the request body back, one response body per request message
    /hold               waits for /release before reading its body; answers with its length
    /release            lets /hold read
    /disconnect         waits for http.disconnect, then tries to send (records what happened for /seen)
    /seen               what /disconnect and cancelled tasks recorded (JSON)
    /big?size=N         one body of N bytes
    /flood?n=N          N body messages (0: forever) sent in a loop that never suspends
    /pathsend?path=P    http.response.pathsend of P
    /error-before       raises before http.response.start
    /error-after        sends the head and a first body, then raises
    /no-response        returns without sending anything
    /half               sends the head and a first body, then returns
    /start-only         http.response.start, then returns
    /after-end          the whole response, then raises (as a failing background task would)
    /ws/scope           WebSocket: the scope as JSON, in a denial response
    /ws/echo            WebSocket: accepts (with the first subprotocol offered), echoes until disconnect
    /ws/deny            WebSocket: websocket.close before accepting
    /ws/http            WebSocket: a 401 denial response (websocket.http.response)
    /ws/close           WebSocket: accepts, then closes with 4000 "bye"
    /ws/raise           WebSocket: accepts, then raises
"""
import asyncio
import json
import os
from urllib.parse import parse_qs

seen = {}
waiting = []
released = None


def text(body, status=200, headers=()):
    return [
        {"type": "http.response.start", "status": status,
         "headers": [(b"content-type", b"text/plain")] + list(headers)},
        {"type": "http.response.body", "body": body},
    ]


async def reply(send, messages):
    for m in messages:
        await send(m)


def as_json(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


async def read_body(receive):
    chunks, body = [], b""
    while True:
        m = await receive()
        if m["type"] != "http.request":
            return body, chunks, m["type"]
        chunks.append([len(m.get("body", b"")), m.get("more_body", False)])
        body += m.get("body", b"")
        if not m.get("more_body"):
            return body, chunks, None


async def websocket(scope, receive, send):
    path = scope["path"]
    first = await receive()
    assert first["type"] == "websocket.connect", first
    if path.endswith("/scope"):
        await send({"type": "websocket.http.response.start", "status": 200, "headers": []})
        await send({"type": "websocket.http.response.body", "body": json.dumps(as_json(scope)).encode()})
        return
    if path == "/ws/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/ws/http":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"entry"})
        return
    protocols = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": protocols[0] if protocols else None,
                "headers": [(b"x-ws", b"yes")]})
    if path == "/ws/close":
        await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
        m = await receive()
        seen["ws_close"] = m
        return
    if path == "/ws/raise":
        raise RuntimeError("websocket app failed")
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            seen["ws_disconnect"] = m
            try:
                await send({"type": "websocket.send", "text": "too late"})
            except OSError as exc:
                seen["ws_send_error"] = type(exc).__name__
            return
        if m.get("text") is not None:
            await send({"type": "websocket.send", "text": m["text"]})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"]})


async def app(scope, receive, send):
    global released
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan here")  # the "unsupported" path
    if scope["type"] == "websocket":
        return await websocket(scope, receive, send)
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    if path == "/hello":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})
    elif path.endswith("/scope"):
        await reply(send, text(json.dumps(as_json(scope)).encode(), headers=[(b"x-kind", b"json")]))
    elif path == "/echo":
        body, chunks, _ = await read_body(receive)
        await reply(send, text(body, headers=[(b"x-chunks", json.dumps(chunks).encode())]))
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(int(query.get("n", 3))):
            await send({"type": "http.response.body", "body": b"chunk %d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/barrier":
        n = int(query["n"])
        fut = asyncio.get_running_loop().create_future()
        waiting.append(fut)
        if len(waiting) >= n:
            for f in waiting:
                f.set_result(None)
            waiting.clear()
        await fut
        await reply(send, text(b"passed"))
    elif path == "/sleep":
        try:
            await asyncio.sleep(float(query.get("s", 0.5)))
        except asyncio.CancelledError:
            seen["sleep_cancelled"] = True
            raise
        await reply(send, text(b"slept"))
    elif path == "/paced":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            m = await receive()
            if m["type"] != "http.request":
                return
            if m.get("body"):
                await send({"type": "http.response.body", "body": m["body"], "more_body": True})
            if not m.get("more_body"):
                await send({"type": "http.response.body", "body": b""})
                return
    elif path == "/hold":
        released = released or asyncio.Event()
        await released.wait()
        body, _, _ = await read_body(receive)
        await reply(send, text(b"%d" % len(body)))
    elif path == "/release":
        released = released or asyncio.Event()
        released.set()
        await reply(send, text(b"released"))
    elif path == "/disconnect":
        m = await receive()
        while m["type"] == "http.request" and m.get("more_body"):
            m = await receive()
        if m["type"] == "http.request":
            m = await receive()
        seen["disconnect_message"] = m
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"too late"})
        except OSError as exc:
            seen["send_error"] = "%s: %s" % (type(exc).__name__, exc)
            raise
    elif path == "/ignore-disconnect":
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen["ignore_cancelled"] = True
            raise
    elif path == "/seen":
        await reply(send, text(json.dumps(seen).encode()))
    elif path == "/pathsend":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.pathsend", "path": query["path"]})
    elif path == "/error-before":
        raise ValueError("failed before the head")
    elif path == "/error-after":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("failed after the head")
    elif path == "/no-response":
        return
    elif path == "/half":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
    elif path == "/start-only":
        await send({"type": "http.response.start", "status": 204, "headers": []})
    elif path == "/after-end":
        await reply(send, text(b"done"))
        raise ValueError("failed after the response")
    elif path == "/big":
        size = int(query["size"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": bytes(range(256)) * (size // 256) + b"x" * (size % 256)})
    elif path == "/flood":  # sends in a loop and never awaits anything that suspends
        await send({"type": "http.response.start", "status": 200, "headers": []})
        n, i = int(query.get("n", 0)), 0
        while i < n or not n:
            await send({"type": "http.response.body", "body": b"%08d" % i, "more_body": True})
            i += 1
        await send({"type": "http.response.body", "body": b""})
    elif path == "/pid":
        await reply(send, text(b"%d" % os.getpid()))
    else:
        await reply(send, text(b"not found", 404))
