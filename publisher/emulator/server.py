"""The emulator app: AWS JSON 1.1 on `POST /`, rest-json elsewhere, control under `/_emulator`."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web import ContentCoding

from publisher.emulator import control, rest_calls
from publisher.emulator.accounts import account_of
from publisher.emulator.faults import INTERNAL, THROTTLED, UNAVAILABLE, CallFault
from publisher.emulator.operations import OPERATIONS
from publisher.emulator.options import EmulatorOptions, prefix_path
from publisher.emulator.protocol import (
    CONTENT_TYPE,
    AwsError,
    error_response,
    json_response,
    new_ids,
)
from publisher.emulator.sigv4 import check_scope, parse_authorization, verify_signature
from publisher.emulator.state import EmulatorState

STATE_KEY = web.AppKey("emulator_state", EmulatorState)
TARGET_PREFIX = "AWSEvents."
_AUTH_CODES = frozenset(
    {
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
    }
)
_VALIDATION_CODES = frozenset({"ValidationException", "SerializationException"})
_FAULT_ERRORS = {
    CallFault.THROTTLE: (THROTTLED, "throttled"),
    CallFault.ERROR_500: (INTERNAL, "error_500"),
    CallFault.ERROR_503: (UNAVAILABLE, "error_503"),
}


def _outcome(error: AwsError) -> str:
    if error.code in _AUTH_CODES:
        return "auth_error"
    if error.code in _VALIDATION_CODES:
        return "validation_error"
    return "error_500" if error.status >= 500 else "client_error"


def _authorize(request: web.Request, body: bytes, options: EmulatorOptions) -> str:
    """The caller's account, once its signature passes."""
    auth = parse_authorization(request.headers.get("Authorization"))
    check_scope(auth, options.region, options.access_key_id)
    if options.secret_access_key is not None:
        verify_signature(request, body, auth, options.secret_access_key)
    return account_of(options.accounts, auth.access_key, options.default_account)


def _parse_call(request: web.Request, body: bytes) -> tuple[str, dict[str, Any]]:
    target = request.headers.get("X-Amz-Target", "")
    operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    if operation not in OPERATIONS:
        raise AwsError("UnknownOperationException", f"Unknown operation {target or '(none)'}")
    try:
        payload = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise AwsError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise AwsError("SerializationException", "The request body must be a JSON object.")
    return operation, payload


def _drop_connection(request: web.Request) -> web.Response:
    # Aborting the transport makes the client see a reset with no response at all; the
    # returned response is never written.
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


async def handle_aws_call(request: web.Request) -> web.Response:
    """Authenticate, apply call faults, run the operation, answer (or drop the connection)."""
    state = request.app[STATE_KEY]
    state.stats.requests += 1
    request_id = new_ids(1)[0]
    body = await request.read()
    try:
        caller = _authorize(request, body, state.options)
        operation, payload = _parse_call(request, body)
    except AwsError as error:
        state.stats.calls[_outcome(error)] += 1
        return error_response(error, request_id)
    state.stats.operations[operation] += 1
    # Faults target the hot call only, so setting up sources keeps working under chaos.
    fault = state.faults.call_fault() if operation == "PutPartnerEvents" else CallFault.NONE
    response = _respond(state, (operation, payload, caller), fault, request_id)
    latency_ms = state.faults.config.latency_ms
    if latency_ms:
        await asyncio.sleep(latency_ms / 1000)
    if fault in (CallFault.DROP, CallFault.DROP_AFTER):
        return _drop_connection(request)
    return response


def _respond(
    state: EmulatorState, call: tuple[str, dict[str, Any], str], fault: CallFault, request_id: str
) -> web.Response:
    operation, payload, caller = call
    if fault is CallFault.DROP:
        state.stats.calls["dropped"] += 1
        return web.Response()
    if fault is CallFault.MALFORMED:
        state.stats.calls["malformed"] += 1
        body = state.faults.malformed_reply()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
    if fault in _FAULT_ERRORS:
        error, outcome = _FAULT_ERRORS[fault]
        state.stats.calls[outcome] += 1
        return error_response(error, request_id)
    try:
        result = OPERATIONS[operation](state, payload, caller)
    except AwsError as error:
        state.stats.calls[_outcome(error)] += 1
        return error_response(error, request_id)
    state.stats.calls["dropped_after" if fault is CallFault.DROP_AFTER else "ok"] += 1
    return json_response(result, request_id)


def build_app(options: EmulatorOptions | None = None) -> web.Application:
    """The emulator as an aiohttp application with fresh state (`app[STATE_KEY]`).

    With a path prefix every route sits under it, and the AWS JSON calls answer at the bare
    prefix too: botocore posts to an endpoint's path as it is written, with or without "/".
    """
    options = options or EmulatorOptions()
    # JSON escaping can make the body several times the entries' AWS size; the size rule
    # itself is enforced on the decoded entries.
    max_size = options.max_request_bytes * 8 + 1_048_576
    app = web.Application(client_max_size=max_size)
    app[STATE_KEY] = EmulatorState.from_options(options)
    app.router.add_post("/", handle_aws_call)
    control.add_routes(app, STATE_KEY)
    rest_calls.add_routes(app, STATE_KEY)  # the catch-all: last
    prefix = prefix_path(options.path_prefix)
    outer = app
    if prefix:
        outer = web.Application(client_max_size=max_size)
        outer[STATE_KEY] = app[STATE_KEY]
        outer.router.add_post(prefix, handle_aws_call)
        outer.add_subapp(prefix, app)
    if options.gzip_responses != "off":
        outer.middlewares.append(_compressing(options.gzip_responses == "always"))
    return outer


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _compressing(always: bool) -> Any:
    """gzip every reply whose request accepts gzip, or every reply regardless."""

    @web.middleware
    async def compress(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        accepted = "gzip" in request.headers.get("Accept-Encoding", "").lower()
        if isinstance(response, web.Response) and response.body and (always or accepted):
            response.enable_compression(ContentCoding.gzip)
        return response

    return compress


def _tls(options: EmulatorOptions) -> ssl.SSLContext | None:
    if options.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options.tls_cert, options.tls_key)
    return context


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A started emulator: its base URL (scheme, path prefix included) and its live state."""

    url: str
    host: str
    port: int
    state: EmulatorState


@asynccontextmanager
async def running_emulator(
    options: EmulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningEmulator]:
    """Serve the emulator on host:port (0 picks a free port) for the duration of the block."""
    options = options or EmulatorOptions()
    app = build_app(options)
    tls = _tls(options)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        await site.start()
        bound_port = int(runner.addresses[0][1])
        url_host = f"[{host}]" if ":" in host else host
        scheme = "https" if tls else "http"
        url = f"{scheme}://{url_host}:{bound_port}{prefix_path(options.path_prefix)}"
        yield RunningEmulator(url, host, bound_port, app[STATE_KEY])
    finally:
        await runner.cleanup()
