"""Serve the rest-json services (AppIntegrations, Customer Profiles) next to EventBridge.

Which service a request is for comes from its SigV4 credential scope, as an AWS front door
would know it from the host name: `app-integrations` or `profile`.
"""

from __future__ import annotations

from aiohttp import web

from publisher.emulator import appintegrations, profiles, restjson, workflows
from publisher.emulator.accounts import account_of
from publisher.emulator.options import prefix_path
from publisher.emulator.protocol import AwsError
from publisher.emulator.sigv4 import check_scope, parse_authorization, verify_signature
from publisher.emulator.state import EmulatorState

StateKey = web.AppKey[EmulatorState]
SERVICES: dict[str, tuple[list[restjson.Route], str]] = {
    "app-integrations": (appintegrations.ROUTES, "InvalidRequestException"),
    "profile": (profiles.ROUTES + workflows.ROUTES, "BadRequestException"),
}
# rest-json front doors answer authentication failures with 403.
_AUTH_STATUS = 403


def _service(request: web.Request, body: bytes, state: EmulatorState) -> tuple[str, str]:
    """(service, caller's account) from the verified SigV4 scope."""
    options = state.options
    try:
        auth = parse_authorization(request.headers.get("Authorization"))
        service = auth.service if auth.service in SERVICES else "app-integrations"
        check_scope(auth, options.region, options.access_key_id, service)
        if options.secret_access_key is not None:
            verify_signature(request, body, auth, options.secret_access_key)
    except AwsError as failure:
        raise AwsError(failure.code, failure.message, _AUTH_STATUS) from None
    return service, account_of(options.accounts, auth.access_key, options.default_account)


def _run(
    state: EmulatorState, request: web.Request, identity: tuple[str, str], body: bytes
) -> web.Response:
    service, caller = identity
    routes, bad_request = SERVICES[service]
    # Under a path prefix the operation's own path follows it (the signature covers both).
    path = request.raw_path.removeprefix(prefix_path(state.options.path_prefix))
    found, params = restjson.match(routes, request.method, path)
    state.stats.operations[found.operation] += 1
    queued = state.rest_faults.take(found.operation)
    if queued is not None:
        raise restjson.error(queued, f"Injected {queued}.")
    rest_request = restjson.RestRequest(
        params, request.query, restjson.decode_body(body, bad_request), caller
    )
    result = found.handler(state, rest_request)
    state.stats.calls["ok"] += 1
    return restjson.response(result, restjson.new_request_id())


def add_routes(app: web.Application, key: StateKey) -> None:
    """A catch-all route; register it after every other route."""

    async def handle(request: web.Request) -> web.Response:
        state = request.app[key]
        state.stats.requests += 1
        body = await request.read()
        try:
            identity = _service(request, body, state)
            return _run(state, request, identity, body)
        except AwsError as failure:
            state.stats.calls["error_500" if failure.status >= 500 else "client_error"] += 1
            return restjson.error_response(failure, restjson.new_request_id())

    app.router.add_route("*", "/{tail:.*}", handle)
