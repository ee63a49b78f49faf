"""Benchmark app: Flask with a JSON endpoint, like the TechEmpower JSON test.

GET /json returns {"message": "Hello, World!"} via jsonify. GET /list returns
about 10 KiB of JSON: 60 records of an API's usual shape (ids, names, emails,
dates, flags, tags), the same every time. Exposed as both `application` and
`app` so every server can name it the same way.
"""
from flask import Flask, jsonify

app = Flask(__name__)

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Guido", "Margaret", "Dennis"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Rossum"]
_TAGS = ["admin", "billing", "beta", "ops", "support", "trial", "eu", "us", "apac", "legacy"]
RECORDS = [
    {
        "id": 1000 + i,
        "name": f"{_FIRST[i % 12]} {_LAST[(i * 7) % 10]}",
        "email": f"{_FIRST[i % 12].lower()}.{_LAST[(i * 7) % 10].lower()}{i}@example.com",
        "created": f"2026-{1 + i % 12:02d}-{1 + (i * 5) % 28:02d}T{i % 24:02d}:{(i * 13) % 60:02d}:00Z",
        "active": i % 3 != 0,
        "score": round((i * 7919 % 1000) / 10, 1),
        "tags": [_TAGS[i % 10], _TAGS[(i * 3) % 10]],
    }
    for i in range(60)
]


@app.route("/list")
def list_endpoint():
    return jsonify(RECORDS)


@app.route("/json")
def json_endpoint():
    return jsonify(message="Hello, World!")


application = app
