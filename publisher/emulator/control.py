"""Control endpoints under `/_emulator` (not AWS): events, counters, reset, faults, sources, ...."""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from publisher.emulator.accounts import CUSTOMER_ACCOUNT
from publisher.emulator.faults import FaultConfig
from publisher.emulator.sources import SourceState
from publisher.emulator.state import EmulatorState
from publisher.emulator.validation import ACCOUNT_PATTERN, SOURCE_PATTERN

StateKey = web.AppKey[EmulatorState]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _bad_request(message: str) -> web.Response:
    return _json({"error": message}, status=400)


def _bad_request_error(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=orjson.dumps({"error": message}).decode(), content_type="application/json"
    )


def _offset(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "0")
    if not raw.isdigit():
        raise _bad_request_error(f"{name} must be a non-negative integer")
    return int(raw)


DEFAULT_EVENTS_LIMIT = 1000
MAX_EVENTS_LIMIT = 100_000


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_EVENTS_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_EVENTS_LIMIT:
        raise _bad_request_error(f"limit must be an integer from 1 to {MAX_EVENTS_LIMIT}")
    return int(raw)


async def _read_json(request: web.Request) -> object:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise _bad_request_error("body must be JSON") from None


def add_routes(app: web.Application, key: StateKey) -> None:
    """Register the control endpoints on the emulator's app."""

    async def events(request: web.Request) -> web.Response:
        # Paged: a 100,000-event run would otherwise answer tens of megabytes at once.
        log = request.app[key].events
        source = request.query.get("source")
        since, dropped_since = _offset(request, "since"), _offset(request, "dropped_since")
        limit = _limit(request)
        delivered, next_index = log.delivered.select(since, source, limit)
        dropped, dropped_next = log.dropped.select(dropped_since, source, limit)
        return _json(
            {
                "events": delivered,
                "dropped": dropped,
                "next": next_index,
                "dropped_next": dropped_next,
                "more": next_index < log.delivered.end or dropped_next < log.dropped.end,
            }
        )

    async def stats(request: web.Request) -> web.Response:
        return _json(request.app[key].stats.to_json())

    async def reset(request: web.Request) -> web.Response:
        request.app[key].reset()
        return _json({"reset": True})

    async def get_faults(request: web.Request) -> web.Response:
        return _json(request.app[key].faults.config.to_json())

    async def set_faults(request: web.Request) -> web.Response:
        try:
            config = FaultConfig.from_json(await _read_json(request))
        except ValueError as error:
            return _bad_request(str(error))
        request.app[key].faults.configure(config)
        return _json(config.to_json())

    async def get_sources(request: web.Request) -> web.Response:
        return _json({"sources": request.app[key].sources.snapshot()})

    async def set_source(request: web.Request) -> web.Response:
        return _force_source(request.app[key], await _read_json(request))

    app.router.add_get("/_emulator/events", events)
    app.router.add_get("/_emulator/stats", stats)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_get("/_emulator/faults", get_faults)
    app.router.add_post("/_emulator/faults", set_faults)
    app.router.add_get("/_emulator/sources", get_sources)
    app.router.add_post("/_emulator/sources", set_source)
    add_integration_routes(app, key)


def add_integration_routes(app: web.Application, key: StateKey) -> None:
    """Test hooks for AppIntegrations and Customer Profiles: associations, domains, errors."""

    async def associate(request: web.Request) -> web.Response:
        return _associate(request.app[key], await _read_json(request))

    async def create_domain(request: web.Request) -> web.Response:
        data = await _read_json(request)
        if not isinstance(data, dict):
            return _bad_request('body must be {"name": DOMAIN, "account"?: ACCOUNT}')
        name = data.get("name")
        if not isinstance(name, str) or re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name) is None:
            return _bad_request("name must be 1..64 of [a-zA-Z0-9_-]")
        account = data.get("account", CUSTOMER_ACCOUNT)
        if not isinstance(account, str) or re.fullmatch(ACCOUNT_PATTERN, account) is None:
            return _bad_request("account must be 12 digits")
        request.app[key].profiles.create_domain((account, name))
        return _json({"name": name, "account": account})

    async def rest_faults(request: web.Request) -> web.Response:
        data = await _read_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("operation"), str):
            return _bad_request('body must be {"operation": NAME, "codes": [CODE, ...]}')
        codes = data.get("codes", [])
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            return _bad_request("codes must be a list of error codes")
        request.app[key].rest_faults.add(data["operation"], codes)
        return _json({"queued": request.app[key].rest_faults.queued})

    app.router.add_post("/_emulator/associations", associate)
    app.router.add_post("/_emulator/domains", create_domain)
    app.router.add_post("/_emulator/rest-faults", rest_faults)


def _associate(state: EmulatorState, data: object) -> web.Response:
    if not isinstance(data, dict) or not isinstance(data.get("event_integration"), str):
        return _bad_request('body must be {"event_integration": NAME, "client_id": ID}')
    name = data["event_integration"]
    integration = state.app_integrations.named(name)
    if integration is None:
        return _json({"error": f"no event integration {name}"}, status=404)
    client_id, client_arn = data.get("client_id", "emulator"), data.get("client_arn")
    if not isinstance(client_id, str) or not (client_arn is None or isinstance(client_arn, str)):
        return _bad_request("client_id and client_arn must be strings")
    state.app_integrations.associate(integration, client_id, client_arn, state.options.region)
    return _json({"associations": state.app_integrations.associations[integration.arn]})


def _force_source(state: EmulatorState, data: object) -> web.Response:
    if not isinstance(data, dict):
        return _bad_request("body must be a JSON object {name, account, state}")
    name, account = data.get("name"), data.get("account", state.options.default_account)
    if not isinstance(name, str) or re.fullmatch(SOURCE_PATTERN, name) is None:
        return _bad_request(f"name must match {SOURCE_PATTERN}")
    if not isinstance(account, str) or re.fullmatch(ACCOUNT_PATTERN, account) is None:
        return _bad_request("account must be 12 digits")
    try:
        source_state = SourceState(data.get("state", "ACTIVE"))
    except ValueError:
        return _bad_request("state must be PENDING, ACTIVE or DELETED")
    partner = data.get("partner", state.options.default_account)
    if not isinstance(partner, str) or re.fullmatch(ACCOUNT_PATTERN, partner) is None:
        return _bad_request("partner must be 12 digits")
    source = state.sources.force(name, account, source_state, partner)
    return _json({"name": source.name, "account": source.account, "state": source.state.value})
