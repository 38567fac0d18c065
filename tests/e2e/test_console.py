"""The console in a real headless browser (Debian's chromium, driven by Playwright) against a
running daemon and the emulator: tenants, a dead letter found by reason and replayed, an event
looked up by id. Screenshots land in test-artifacts/console/ (kept by CI, ignored by git)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import emulator_process, wait_until
from tests.e2e.processes import (
    LENIENT,
    Daemon,
    daemon,
    emulator_events,
    http_json,
    read_jsonl,
    set_faults,
    write_config,
)

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/services.sh; never a download
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
TOKEN = "console-e2e-token"
HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def post(proc: Daemon, event: dict[str, Any]) -> None:
    assert proc.post(json.dumps(event).encode(), "application/json")[0] == 202


def console_daemon_setup(tmp_path: Path, url: str, **admin: Any) -> Path:
    return write_config(
        tmp_path, url, admin={"ui": True, **admin}, ledger={"flush_interval_s": 0.05}
    )


def test_an_operator_signs_in_finds_a_dead_letter_replays_it_and_traces_an_event(
    tmp_path: Path, browser: Any
) -> None:
    with emulator_process(LENIENT) as url:
        config = console_daemon_setup(tmp_path, url, token=TOKEN)
        with daemon(config) as proc:
            post(proc, {"id": "ord-1", "tenant": "acme", "detail_type": "T", "detail": {"n": 1}})
            wait_until(lambda: len(emulator_events(url)) == 1, 10, "ord-1 published")
            set_faults(url, entry_error_rates={"AccessDeniedException": 1.0})
            hostile = {"n": 2, "note": HOSTILE}
            post(proc, {"id": "ord-2", "tenant": "acme", "detail_type": "T", "detail": hostile})
            letters = tmp_path / "dead-letters.jsonl"
            wait_until(lambda: len(read_jsonl(letters)) == 1, 10, "ord-2 dead-lettered")
            set_faults(url, entry_error_rates={})

            page = browser.new_page(viewport={"width": 1280, "height": 800})
            _sign_in(page, proc)
            _tenants(page, proc)
            _find_and_replay(page, proc, url)
            _look_up(page, proc, url)
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{proc.admin_url}/ui/tenants")
            assert page.locator("td", has_text="acme").first.is_visible()
            shot(page, "tenants-phone")
            assert page.evaluate("window.__pwned") is None


def _sign_in(page: Any, proc: Daemon) -> None:
    response = page.goto(f"{proc.admin_url}/ui")
    assert response.status == 401  # the login form, nothing else
    assert page.locator("table").count() == 0
    page.fill("input[name=token]", "wrong")
    page.click('button:has-text("Sign in")')
    assert page.locator(".error").inner_text() == "That is not the admin token."
    page.fill("input[name=token]", TOKEN)
    page.click('button:has-text("Sign in")')
    page.wait_for_url(f"{proc.admin_url}/ui")
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator(".chart").count() == 5
    shot(page, "overview")


def _tenants(page: Any, proc: Daemon) -> None:
    page.click("header >> text=Tenants")
    page.wait_for_url(f"{proc.admin_url}/ui/tenants")  # reloading mid-navigation would race it
    rows = page.locator("tbody tr")
    wait_until(lambda: _reloaded_rows(page) == 2, 10, "both tenants listed")
    acme = rows.filter(has_text="acme")
    assert "aws.partner/example.com/acme/orders" in acme.inner_text()
    api = http_json(f"{proc.admin_url}/v1/tenants", headers={"Authorization": f"Bearer {TOKEN}"})
    states = {row["tenant"]: row["source_state"] for row in api[1]["tenants"]}
    cells = acme.locator("td").all_inner_texts()
    assert cells[2] == (states["acme"] or "-")
    shot(page, "tenants")
    page.fill("input[name=name]", "glob")
    page.click('button:has-text("Filter")')
    assert page.locator("tbody tr").count() == 1
    assert "globex" in page.locator("tbody tr").inner_text()


def _reloaded_rows(page: Any) -> int:
    page.reload()
    return int(page.locator("tbody tr").count())


def _find_and_replay(page: Any, proc: Daemon, url: str) -> None:
    page.click("header >> text=Dead letters")
    page.select_option("select[name=reason]", "rejected")
    page.click('button:has-text("Filter")')
    assert "reason=rejected" in page.url
    row = page.locator("tbody tr")
    assert row.count() == 1
    assert "acme" in row.inner_text()
    shot(page, "dead-letters")
    row.locator("a").click()
    event_text = page.locator("pre").inner_text()
    assert "<script>window.__pwned = 1</script>" in event_text  # shown as text, not run
    assert page.evaluate("window.__pwned") is None
    assert "AccessDeniedException" in page.locator("dl").inner_text()
    shot(page, "dead-letter")
    page.click('button:has-text("Replay this one")')
    assert page.locator("#replay-count").inner_text() == "1"
    shot(page, "replay-confirm")
    page.click("button.danger")
    assert "Replayed 1 dead letter(s)" in page.locator("#replayed").inner_text()
    wait_until(lambda: any(e["detail"].get("n") == 2 for e in _details(url)), 10, "ord-2 delivered")


def _details(url: str) -> list[dict[str, Any]]:
    return [
        {**e, "detail": json.loads(e["detail"]) if isinstance(e["detail"], str) else e["detail"]}
        for e in emulator_events(url)
    ]


def _look_up(page: Any, proc: Daemon, url: str) -> None:
    delivered = {e["detail"]["n"]: e for e in _details(url)}
    page.click("header >> text=Event lookup")
    page.fill("input[name=id]", "ord-2")
    page.click('button:has-text("Look up")')
    page.wait_for_load_state()

    def published() -> bool:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, found = http_json(f"{proc.admin_url}/v1/events/ord-2", headers=auth)
        return status == 200 and found["state"] == "published"

    # The ledger is written in batches after settlement: wait on its API, then show the page
    # (reloading the page in a tight loop races the form's own navigation).
    wait_until(published, 10, "ord-2 published in the ledger")
    page.reload()
    assert "published" in page.locator("dl").inner_text()
    summary = page.locator("dl").inner_text()
    assert delivered[2]["id"] in summary  # the AWS EventId of the replayed event
    history = page.locator("tbody").inner_text()
    assert "received" in history
    shot(page, "event")


def test_without_a_token_the_console_is_read_only_and_replay_is_refused(
    tmp_path: Path, browser: Any
) -> None:
    with emulator_process(LENIENT, "--fault-entry", "AccessDeniedException=1.0") as url:
        config = console_daemon_setup(tmp_path, url)
        with daemon(config) as proc:
            post(proc, {"id": "ord-9", "tenant": "globex", "detail_type": "T", "detail": {}})
            letters = tmp_path / "dead-letters.jsonl"
            wait_until(lambda: len(read_jsonl(letters)) == 1, 10, "ord-9 dead-lettered")
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            assert page.goto(f"{proc.admin_url}/ui/dead-letters").status == 200
            assert "read-only" in page.locator(".note").first.inner_text()
            assert page.locator("button:has-text('Replay')").count() == 0
            assert page.locator("input[type=checkbox]:not([disabled])").count() == 0
            shot(page, "dead-letters-read-only")
            refused = page.request.post(
                f"{proc.admin_url}/ui/dead-letters/replay",
                form={"scope": "filter", "confirm": "yes"},
            )
            assert refused.status == 403
            api = page.request.post(f"{proc.admin_url}/v1/dead-letters/replay", data={"all": True})
            assert api.status == 403
            status, listed = http_json(f"{proc.admin_url}/v1/dead-letters")
            assert status == 200
            assert [(d["replayed"], d["reason"]) for d in listed["dead_letters"]] == [
                (False, "rejected")
            ]
