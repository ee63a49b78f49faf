import types


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pkg.mod"]


obj = types.SimpleNamespace(app=_app)
