"""Benchmark app: Flask with a JSON endpoint, like the TechEmpower JSON test.

GET /json returns {"message": "Hello, World!"} via jsonify. Exposed as both
`application` and `app` so every server can name it the same way.
"""
from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/json")
def json_endpoint():
    return jsonify(message="Hello, World!")


application = app
