"""A Starlette app (Debian's python3-starlette): a route, a mounted sub-app (root_path) and a
background task."""
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


async def background(request):
    return PlainTextResponse("queued", background=BackgroundTask(done.append, "ran"))


async def ran(request):
    return JSONResponse(done)


app = Starlette(routes=[Route("/", home), Route("/background", background), Route("/ran", ran),
                        Mount("/sub", routes=[Route("/where/{name}", where)])])
