"""Benchmark app: FastAPI with a JSON endpoint, like the TechEmpower JSON test.

GET /json returns {"message": "Hello, World!"} (FastAPI serialises the dict; no response model).
Served as `fastapi_json:app` by warpipe and uvicorn in bench/run.ts.
"""
from fastapi import FastAPI

app = FastAPI()


@app.get("/json")
async def json():
    return {"message": "Hello, World!"}
