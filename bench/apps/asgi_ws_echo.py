"""Benchmark app: a plain ASGI 3 WebSocket echo (bench/ws-load.ts drives it).

A WebSocket on any path is accepted and every message is sent back as it came (text as text,
bytes as bytes) until the client closes. An HTTP GET answers "WebSocket echo" (the bench's
readiness check). No framework: what is measured is the server's WebSocket path.
"""

READY = [
    {"type": "http.response.start", "status": 200,
     "headers": [(b"content-type", b"text/plain"), (b"content-length", b"14")]},
    {"type": "http.response.body", "body": b"WebSocket echo"},
]
ACCEPT = {"type": "websocket.accept"}


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "http":
        for message in READY:
            await send(message)
    elif kind == "websocket":
        await receive()  # websocket.connect
        await send(ACCEPT)
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return  # websocket.disconnect
            text = message.get("text")
            if text is not None:
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes")})
