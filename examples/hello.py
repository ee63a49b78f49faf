"""The bundled example: a plain PEP 3333 app, no framework.

    warpipe examples/hello.py --http 127.0.0.1:8000   (npx warpipe ... in the clone, before installing)

GET / shows a page with the request's environ; POST /echo returns the body it got.
"""
import html
import json


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/echo" and environ["REQUEST_METHOD"] == "POST":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", environ.get("CONTENT_TYPE") or "application/octet-stream"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/json":
        data = json.dumps({"hello": "world", "path": path}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]
    if path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    rows = "".join(
        "<tr><td>%s</td><td>%s</td></tr>" % (html.escape(k), html.escape(repr(v)))
        for k, v in sorted(environ.items())
    )
    page = (
        "<!doctype html><meta charset=utf-8><title>warpipe</title>"
        "<h1>Hello from warpipe</h1><p>This page is a WSGI app running in a Python worker."
        "<form method=post action=/echo><input name=say value=hi><button>echo</button></form>"
        "<table>%s</table>" % rows
    ).encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))])
    return [page]
