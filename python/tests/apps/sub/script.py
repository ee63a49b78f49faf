import sibling  # importable because the file's directory goes on sys.path


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [sibling.TEXT]
