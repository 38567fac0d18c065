"""admin.token over real HTTP: /ui and /v1/ need it, probes never do, /metrics when asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from publisher.http.admin import Admin
from publisher.http.console.auth import COOKIE
from publisher.observe.metrics import Metrics
from publisher.settings import Settings

TOKEN = "s3cret-admin-token"


async def ready() -> dict[str, bool]:
    return {"input": True}


def settings(tmp_path: Path, **admin: object) -> Settings:
    return Settings.model_validate(
        {
            "admin": {"port": 0, "ui": True, **admin},
            "dead_letter": {"path": str(tmp_path / "dead-letters.jsonl")},
            "input": {"kind": "spool", "path": str(tmp_path / "spool.db")},
        }
    )


async def serve(whole: Settings) -> AsyncIterator[aiohttp.ClientSession]:
    admin = Admin(whole.admin, Metrics(), ready, whole=whole)
    await admin.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{admin.port}") as http:
            yield http
    finally:
        await admin.stop()


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async for http in serve(settings(tmp_path, token=TOKEN)):
        yield http


@pytest.fixture
async def open_port(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async for http in serve(settings(tmp_path)):
        yield http


async def status_of(http: aiohttp.ClientSession, path: str, **kwargs: object) -> int:
    async with http.get(path, allow_redirects=False, **kwargs) as response:  # type: ignore[arg-type]
        return response.status


@pytest.mark.parametrize(
    "path",
    [
        "/ui",
        "/ui/tenants",
        "/ui/dead-letters",
        "/ui/events",
        "/v1/tenants",
        "/v1/dead-letters",
        "/v1/events/ord-1",
    ],
)
async def test_with_a_token_nothing_under_ui_or_v1_answers_without_it(
    guarded: aiohttp.ClientSession, path: str
) -> None:
    assert await status_of(guarded, path) == 401
    wrong = {"Authorization": "Bearer not-it"}
    assert await status_of(guarded, path, headers=wrong) == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert await status_of(guarded, path, headers=right) in (200, 404, 503)


async def test_probes_and_metrics_do_not_ask_for_the_token(guarded: aiohttp.ClientSession) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert await status_of(guarded, path) == 200


async def test_metrics_ask_for_it_when_configured(tmp_path: Path) -> None:
    async for http in serve(settings(tmp_path, token=TOKEN, metrics_requires_token=True)):
        assert await status_of(http, "/metrics") == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert await status_of(http, "/metrics", headers=headers) == 200
        assert await status_of(http, "/healthz") == 200


async def test_the_token_in_the_url_sets_a_strict_http_only_cookie(
    guarded: aiohttp.ClientSession,
) -> None:
    async with guarded.get(f"/ui?token={TOKEN}", allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/ui"
        cookie = response.headers["Set-Cookie"]
        session = response.cookies[COOKIE].value
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    headers = {"Cookie": f"{COOKIE}={session}"}
    assert await status_of(guarded, "/ui/tenants", headers=headers) == 200
    assert await status_of(guarded, "/v1/tenants", headers={"Cookie": f"{COOKIE}=forged"}) == 401
    async with guarded.get("/ui?token=wrong", allow_redirects=False) as response:
        assert response.status == 401
        assert COOKIE not in response.cookies


async def test_without_a_token_the_admin_port_is_read_only(
    open_port: aiohttp.ClientSession,
) -> None:
    assert await status_of(open_port, "/ui/dead-letters") == 200
    async with open_port.post("/v1/dead-letters/replay", json={"all": True}) as response:
        assert response.status == 403
    async with open_port.post(
        "/ui/dead-letters/replay", data={"scope": "filter", "confirm": "yes"}
    ) as response:
        assert response.status == 403
        assert "read-only" in await response.text()
