import types


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"factory"]


def create_app():
    return _app


def bad_factory():
    raise RuntimeError("factory exploded")


holder = types.SimpleNamespace(app=_app)
not_callable = 42
