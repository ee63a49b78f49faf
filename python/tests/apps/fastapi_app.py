"""A FastAPI app (Debian's python3-fastapi): path and query parameters, JSON, an upload echoed,
a streaming response, a WebSocket echo and lifespan state."""
import contextlib

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"greeting": "hi from lifespan"}


app = FastAPI()
app.router.lifespan_context = lifespan  # FastAPI 0.92 has no lifespan= yet; Starlette 0.26 passes the state on


@app.get("/json")
async def json_endpoint():
    return {"message": "Hello, World!"}


@app.get("/items/{item_id}")
async def item(item_id: int, q: str = "none"):
    return {"item_id": item_id, "q": q}


@app.post("/upload")
async def upload(request: Request):
    body = await request.body()
    return {"size": len(body), "head": body[:8].decode("latin-1")}


@app.get("/state")
async def state(request: Request):
    return {"greeting": request.state.greeting}


@app.get("/stream")
async def stream():
    async def pieces():
        for i in range(3):
            yield b"piece %d\n" % i
    return StreamingResponse(pieces(), media_type="text/plain")


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text("echo: " + await websocket.receive_text())
    except WebSocketDisconnect:
        pass
