"""`GET /v1/dead-letters` and `POST /v1/dead-letters/replay`: the console's actions as JSON.

The same selection and replay code as `dlq list` / `dlq replay`. Replay is refused (403) while
`admin.token` is not set: an unprotected admin port is read-only.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from publisher.deadletters.replay import Selection, read_selected, replay
from publisher.settings import Settings

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def _json(status: int, payload: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


class DeadLetterApi:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/dead-letters", self.listing)
        app.router.add_post("/v1/dead-letters/replay", self.replay)

    async def listing(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _json(400, {"error": "limit: an integer from 0 to 10000"})
        if not 0 <= limit <= MAX_LIMIT:
            return _json(400, {"error": "limit: an integer from 0 to 10000"})
        include_replayed = request.query.get("include_replayed", "false")
        if include_replayed not in ("true", "false"):
            return _json(400, {"error": "include_replayed: true or false"})
        selection = Selection(
            reasons=tuple(request.query.getall("reason", [])),
            tenants=tuple(request.query.getall("tenant", [])),
            include_replayed=include_replayed == "true",
        )
        chosen = list(reversed(await read_selected(self._settings, selection)))
        records = [dict(letter.record, replayed=letter.replayed) for letter in chosen[:limit]]
        return _json(200, {"matching": len(chosen), "dead_letters": records})

    async def replay(self, request: web.Request) -> web.Response:
        if self._settings.admin.token is None:
            return _json(403, {"error": "read-only: replay needs admin.token to be set"})
        try:
            body = orjson.loads(await request.read())
            selection = _selection(body)
        except (orjson.JSONDecodeError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        if body.get("dry_run") is True:
            return _json(200, {"matching": len(await read_selected(self._settings, selection))})
        return _json(200, {"replayed": await replay(self._settings, selection)})


def _selection(body: Any) -> Selection:
    """{"reason": [...], "tenant": [...], "dead_letter_id": [...]} or {"all": true}."""
    if not isinstance(body, dict):
        raise ValueError("the body: a JSON object")
    unknown = set(body) - {"reason", "tenant", "dead_letter_id", "all", "dry_run"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    lists = {}
    for key in ("reason", "tenant", "dead_letter_id"):
        value = body.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key}: a list of strings")
        lists[key] = tuple(value)
    everything = body.get("all", False)
    if not isinstance(everything, bool) or not isinstance(body.get("dry_run", False), bool):
        raise ValueError("all, dry_run: true or false")
    selection = Selection(
        reasons=lists["reason"], tenants=lists["tenant"], dead_letter_ids=lists["dead_letter_id"]
    )
    if not (everything or selection.narrows):
        raise ValueError("choose: reason, tenant, dead_letter_id or all: true")
    return selection
