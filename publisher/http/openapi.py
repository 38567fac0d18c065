"""The OpenAPI 3.1 document of the ingest and admin endpoints, served at `GET /openapi.json`.

The document is publisher/http/openapi.json, shipped as package data; the contract tests run
schemathesis with it against the daemon, so the server and the document cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from aiohttp import web

PATH = "/openapi.json"


@cache
def document() -> bytes:
    """The document's bytes, read from the package once."""
    return files("publisher.http").joinpath("openapi.json").read_bytes()


async def serve(request: web.Request) -> web.Response:
    return web.Response(body=document(), content_type="application/json")
