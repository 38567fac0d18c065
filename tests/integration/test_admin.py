"""Admin HTTP over real HTTP: /metrics, /healthz, /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from publisher.http import admin as admin_module
from publisher.http.admin import Admin
from publisher.observe.metrics import Metrics
from publisher.settings import AdminSettings


class Checks:
    """A readiness callable whose answers the test changes."""

    def __init__(self) -> None:
        self.values = {"input": True, "aws": True, "not_draining": True}
        self.error: Exception | None = None
        self.delay_s = 0.0
        self.calls = 0

    async def __call__(self) -> dict[str, bool]:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return dict(self.values)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Admin, Checks, Metrics, aiohttp.ClientSession]]:
    checks = Checks()
    metrics = Metrics()
    admin = Admin(AdminSettings(port=0), metrics, checks)
    await admin.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{admin.port}") as http:
            yield admin, checks, metrics, http
    finally:
        await admin.stop()


Served = tuple[Admin, Checks, Metrics, aiohttp.ClientSession]


async def test_healthz_is_ok(served: Served) -> None:
    *_, http = served
    async with http.get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_metrics_are_prometheus_text_with_publisher_names(served: Served) -> None:
    _, _, metrics, http = served
    metrics.events_published.inc(7)
    metrics.ingest_requests.labels(code="202").inc()
    async with http.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
        text = await response.text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name in (
        "publisher_events_received",
        "publisher_events_published",
        "publisher_events_dead_lettered",
        "publisher_put_requests",
        "publisher_backlog_events",
        "publisher_ingest_requests",
        "publisher_ingest_events",
    ):
        assert name in families, name
    published = families["publisher_events_published"].samples[0]
    assert published.value == 7
    ingest_202 = [
        s for s in families["publisher_ingest_requests"].samples if s.labels == {"code": "202"}
    ]
    assert ingest_202[0].value == 1


async def test_readyz_follows_the_checks(served: Served) -> None:
    _, checks, _, http = served
    async with http.get("/readyz") as response:
        assert response.status == 200
        assert await response.json() == {"ready": True, "checks": checks.values}

    checks.values["not_draining"] = False
    async with http.get("/readyz") as response:
        assert response.status == 503
        answer = await response.json()
        assert answer == {
            "ready": False,
            "checks": {"input": True, "aws": True, "not_draining": False},
        }

    checks.values["not_draining"] = True
    async with http.get("/readyz") as response:
        assert response.status == 200
    assert checks.calls == 3


async def test_readyz_is_503_when_the_checks_fail(served: Served) -> None:
    _, checks, _, http = served
    checks.error = RuntimeError("boom")
    async with http.get("/readyz") as response:
        assert response.status == 503
        answer = await response.json()
        assert answer["ready"] is False
        assert "boom" in answer["error"]


async def test_readyz_is_503_when_the_checks_hang(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, checks, _, http = served
    monkeypatch.setattr(admin_module, "READINESS_TIMEOUT_S", 0.05)
    checks.delay_s = 5
    async with http.get("/readyz") as response:
        assert response.status == 503
        assert "timed out" in (await response.json())["error"]


async def test_unknown_paths_and_methods(served: Served) -> None:
    *_, http = served
    async with http.get("/nope") as response:
        assert response.status == 404
    async with http.post("/healthz") as response:
        assert response.status == 405
