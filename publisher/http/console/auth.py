"""The admin token: Bearer for API calls, a session cookie for the console's browser.

With `admin.token` set, /ui and everything under /v1/ answer 401 without it (and /metrics when
`admin.metrics_requires_token`); /healthz and /readyz never ask, since probes are configured
apart from operators. The cookie holds an HMAC of the token, never the token itself: it stays
valid across restarts and stops working the moment the token changes. SameSite=Strict keeps
other sites' forms from replaying dead letters with it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from publisher.settings import AdminSettings

COOKIE = "publisher_console"
LOGIN_PATH = "/ui/login"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LoginPage = Callable[[str | None], str]
"""Renders the login form with an optional error; the pages module supplies it."""


class AdminAuth:
    def __init__(self, settings: AdminSettings, login_page: LoginPage) -> None:
        self._token = settings.token.get_secret_value() if settings.token else None
        self._metrics_too = settings.metrics_requires_token
        self._login_page = login_page

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def protects(self, path: str) -> bool:
        if self._token is None:
            return False
        if path == "/metrics":
            return self._metrics_too
        return path == "/ui" or path.startswith(("/ui/", "/v1/"))

    def authorized(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and self._matches(given.strip()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self._session_value())

    def _matches(self, given: str) -> bool:
        assert self._token is not None
        return hmac.compare_digest(given.encode(), self._token.encode())

    def _session_value(self) -> str:
        assert self._token is not None
        mac = hmac.new(self._token.encode(), b"partner-publisher console session", hashlib.sha256)
        return mac.hexdigest()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == LOGIN_PATH or not self.protects(request.path):
            return await handler(request)
        if request.path == "/ui" and "token" in request.query:
            return self._sign_in(request.query["token"])
        if self.authorized(request):
            return await handler(request)
        if request.path.startswith("/ui"):
            return self._login_form(None)
        return web.json_response(
            {"error": "this endpoint needs the admin token (Authorization: Bearer <admin.token>)"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def login(self, request: web.Request) -> web.StreamResponse:
        """POST /ui/login (the form) signs in; GET shows the form."""
        if self._token is None:
            return redirect("/ui")
        if request.method != "POST":
            return self._login_form(None, status=200)
        form = await request.post()
        return self._sign_in(str(form.get("token", "")))

    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = redirect(LOGIN_PATH if self._token else "/ui")
        response.del_cookie(COOKIE, path="/")
        return response

    def _sign_in(self, given: str) -> web.StreamResponse:
        if self._token is None or not self._matches(given):
            return self._login_form("That is not the admin token.")
        response = redirect("/ui")
        response.set_cookie(
            COOKIE, self._session_value(), path="/", httponly=True, samesite="Strict"
        )
        return response

    def _login_form(self, error: str | None, status: int = 401) -> web.Response:
        return web.Response(
            status=status,
            text=self._login_page(error),
            content_type="text/html",
            headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
        )


def redirect(location: str) -> web.Response:
    """303 See Other: after a form, the browser GETs the next page."""
    return web.Response(status=303, headers={"Location": location})
