"""The console's read pages: overview, tenants, event lookup, and the login form."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from publisher.core.tenants import configured_tenants
from publisher.deadletters.replay import Selection, read_selected
from publisher.deadletters.store import StoredDeadLetter
from publisher.engine.deadletter import iso_time
from publisher.errors import ConfigError
from publisher.http.console.html import chart, esc, fields, page, state_badge, table
from publisher.http.console.overview import SERIES, WINDOW_S, Throughput
from publisher.ledger.entry import LedgerEntry
from publisher.ledger.lookup import EventLookup
from publisher.settings import Settings

TenantReport = Callable[[], Awaitable[list[dict[str, Any]]]]
HOUR_S = 3600.0


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=body, content_type="text/html", headers={"Cache-Control": "no-store"}
    )


def login_page(error: str | None) -> str:
    problem = f'<div class="error">{esc(error)}</div>' if error else ""
    form = (
        f"{problem}<p>The admin port is protected: enter <code>admin.token</code>.</p>"
        '<form method="post" action="/ui/login" class="filter">'
        '<input type="password" name="token" aria-label="admin token" autocomplete="off" '
        'required autofocus><button type="submit">Sign in</button></form>'
    )
    return page("Sign in", "", form)


def dead_lettered_epoch(letter: StoredDeadLetter) -> float | None:
    when = letter.record.get("dead_lettered_at")
    try:
        return datetime.fromisoformat(str(when)).timestamp()
    except ValueError:
        return None


class ReadPages:
    def __init__(
        self,
        settings: Settings,
        throughput: Throughput,
        events: EventLookup | None,
        tenant_report: Callable[[], TenantReport | None],
        signed_in: Callable[[], bool],
    ) -> None:
        self._settings = settings
        self._throughput = throughput
        self._events = events
        self._tenant_report = tenant_report
        self._signed_in = signed_in

    def _page(self, title: str, current: str, body: str) -> web.Response:
        return html(page(title, current, body, signed_in=self._signed_in()))

    async def overview(self, request: web.Request) -> web.Response:
        rates = self._throughput.rates()
        charts = "".join(chart(label, rates[name], WINDOW_S) for name, label in SERIES.items())
        body = (
            f'<div class="charts">{charts}</div><p class="note">Sampled from this daemon\'s '
            "counters every few seconds since it started; the same counters are on "
            "<code>/metrics</code>. The page refreshes itself every 10 s.</p>"
            "<script>setTimeout(function(){location.reload()},10000)</script>"
        )
        return self._page("Overview", "/ui", body)

    async def tenants(self, request: web.Request) -> web.Response:
        wanted = request.query.get("name", "").strip()
        report = self._tenant_report()
        if report is None:
            return self._page("Tenants", "/ui/tenants", '<p class="note">Not publishing yet.</p>')
        rows = [row for row in await report() if wanted.lower() in str(row["tenant"]).lower()]
        recent = await self._dead_letters_last_hour()
        sources = self._sources()
        cells = [
            [
                esc(row["tenant"]),
                esc(sources.get(str(row["tenant"]))),
                state_badge(row["source_state"]),
                esc(row["backlog_events"]),
                f"{float(row['events_per_s']):,.1f}",
                _age(row["oldest_event_age_s"]),
                esc(recent.get(str(row["tenant"]), 0)),
            ]
            for row in rows
        ]
        headers = (
            "tenant",
            "source",
            "source state",
            "backlog",
            "sent /s",
            "oldest event",
            "dead letters (1 h)",
        )
        body = (
            '<form class="filter" method="get" action="/ui/tenants">'
            f'<input name="name" value="{esc(wanted)}" placeholder="filter by name" '
            'aria-label="filter by name"><button type="submit">Filter</button></form>'
            f"{table(headers, cells, {3, 4, 5, 6})}<p>{len(cells)} tenant(s); the same figures "
            "as <code>GET /v1/tenants</code> and the <code>publisher_tenant_*</code> metrics.</p>"
        )
        return self._page("Tenants", "/ui/tenants", body)

    def _sources(self) -> dict[str, str]:
        """Each tenant's source, tenants_file included (read now, as a reload would)."""
        try:
            tenants = configured_tenants(self._settings)
        except ConfigError:
            tenants = dict(self._settings.tenants)
        return {name: tenant.source for name, tenant in tenants.items()}

    async def _dead_letters_last_hour(self) -> dict[str, int]:
        since = time.time() - HOUR_S
        counts: dict[str, int] = {}
        for letter in await read_selected(self._settings, Selection(include_replayed=True)):
            when = dead_lettered_epoch(letter)
            if when is not None and when >= since:
                tenant = letter.tenant or ""
                counts[tenant] = counts.get(tenant, 0) + 1
        return counts

    async def event(self, request: web.Request) -> web.Response:
        event_id = request.query.get("id", "").strip()
        tenant = request.query.get("tenant", "").strip()
        form = (
            '<form class="filter" method="get" action="/ui/events">'
            f'<input name="id" value="{esc(event_id)}" placeholder="event id" '
            'aria-label="event id" required>'
            f'<input name="tenant" value="{esc(tenant)}" placeholder="tenant (optional)" '
            'aria-label="tenant"><button type="submit">Look up</button></form>'
        )
        if not event_id:
            return self._page("Event lookup", "/ui/events", form)
        if self._events is None or not self._events.enabled:
            note = '<p class="note">The ledger is off (<code>ledger.retention_s: 0</code>).</p>'
            return self._page("Event lookup", "/ui/events", form + note)
        found, entries = await self._events.find(event_id, tenant or None)
        return self._page("Event lookup", "/ui/events", form + _event_view(found, entries))


def _event_view(found: dict[str, Any], entries: list[LedgerEntry]) -> str:
    if found["state"] == "unknown":
        return f'<p class="note">{esc(found["id"])}: unknown (not in the ledger).</p>'
    summary = fields(
        [
            (key, state_badge(value) if key == "state" else _dead_letter_link(key, value))
            for key, value in found.items()
        ]
    )
    history = table(("when", "what", "detail"), _history(entries), set())
    return (
        f"<h2>Summary</h2>{summary}<h2>History</h2>{history}"
        f"<p>CLI: <code>partner-publisher trace {esc(found['id'])}</code></p>"
    )


def _dead_letter_link(key: str, value: Any) -> str:
    if key == "dead_letter_id" and value:
        return f'<a href="/ui/dead-letters/{esc(value)}">{esc(value)}</a>'
    return esc(value)


def _history(entries: list[LedgerEntry]) -> list[list[str]]:
    rows: list[list[str]] = []
    for entry in entries:
        rows.append([esc(iso_time(entry.received_at)), "received", f"tenant={esc(entry.tenant)}"])
        settled = esc(iso_time(entry.settled_at or entry.written_at))
        if entry.state == "published":
            detail = f"attempts={esc(entry.attempts)} aws_event_id={esc(entry.aws_event_id)}"
        elif entry.state == "dead_lettered":
            detail = f"attempts={esc(entry.attempts)} reason={esc(entry.reason)}"
        else:
            detail = f"attempts={esc(entry.attempts)} (another attempt waits)"
        rows.append([settled, state_badge(entry.state), detail])
    return rows


def _age(seconds: Any) -> str:
    if seconds is None:
        return "-"
    value = float(seconds)
    if value < 120:
        return f"{value:,.1f} s"
    return f"{value / 60:,.1f} min" if value < 7200 else f"{value / 3600:,.1f} h"


def pretty(value: Any) -> str:
    """Indented JSON (or the raw text) for a <pre>, escaped."""
    if isinstance(value, str):
        return esc(value)
    return esc(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
