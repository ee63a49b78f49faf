"""A Starlette app (Debian's python3-starlette): a route, a mounted sub-app (root_path) and a
background task
(async, still running when the response went out: STOP waits for it)."""
import asyncio
import sys

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

done = []


async def home(request):
    return PlainTextResponse("home")


async def where(request):
    return JSONResponse({"path": request.url.path, "root_path": request.scope.get("root_path", ""),
                         "path_params": request.path_params})


async def note(what):
    await asyncio.sleep(0.1)  # still running after the response went out
    done.append(what)
    sys.stderr.write("background task: %s\n" % what)
    sys.stderr.flush()


async def background(request):
    return PlainTextResponse("queued", background=BackgroundTask(note, "ran"))


app = Starlette(routes=[Route("/", home), Route("/background", background),
                        Mount("/sub", routes=[Route("/where/{name}", where)])])
