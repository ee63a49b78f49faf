# a Django-style project module (brokensite/wsgi.py) that fails at import
raise RuntimeError("brokensite fails to import")
