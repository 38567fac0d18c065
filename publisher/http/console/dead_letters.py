"""The dead-letter pages: list and filter, one letter in full, and replay with confirmation.

Replay runs the same code as `dlq replay` (publisher.deadletters.replay). It needs the admin
token to be set: a console without one is read-only, since anyone who can reach the port
could otherwise put events back into the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from publisher.deadletters.replay import Selection, read_selected, replay
from publisher.deadletters.store import StoredDeadLetter
from publisher.http.console.html import esc, fields, link, page, table
from publisher.http.console.pages import html, pretty
from publisher.settings import Settings

SHOWN = 200
Form = MultiDictProxy[Any]
READ_ONLY = (
    "The console is read-only: set <code>admin.token</code> to replay from here, "
    "or use <code>partner-publisher dlq replay</code>."
)


class DeadLetterPages:
    def __init__(self, settings: Settings, can_replay: bool, signed_in: Callable[[], bool]) -> None:
        self._settings = settings
        self._can_replay = can_replay
        self._signed_in = signed_in

    def _page(self, title: str, body: str, status: int = 200) -> web.Response:
        return html(
            page(title, "/ui/dead-letters", body, signed_in=self._signed_in()), status=status
        )

    async def listing(self, request: web.Request) -> web.Response:
        tenant = request.query.get("tenant", "").strip()
        reason = request.query.get("reason", "").strip()
        everything = await read_selected(self._settings, Selection(include_replayed=True))
        reasons = sorted({str(letter.record.get("reason")) for letter in everything})
        chosen = [letter for letter in reversed(everything) if _matches(letter, tenant, reason)]
        waiting = sum(1 for letter in chosen if not letter.replayed)
        body = _filter_form(tenant, reason, reasons) + self._replay_form(
            chosen[:SHOWN], tenant, reason, waiting
        )
        shown = min(len(chosen), SHOWN)
        body += f"<p>Showing {shown} of {len(chosen)} (newest first); {waiting} not replayed.</p>"
        return self._page("Dead letters", body)

    def _replay_form(
        self, letters: list[StoredDeadLetter], tenant: str, reason: str, waiting: int
    ) -> str:
        headers = ("", "dead-lettered at", "tenant", "reason", "error", "attempts", "id")
        rows = [
            [
                "" if letter.replayed else _checkbox(letter.dead_letter_id, self._can_replay),
                esc(letter.record.get("dead_lettered_at")),
                esc(letter.tenant),
                esc(letter.record.get("reason")),
                esc(letter.record.get("error_code")),
                esc(letter.record.get("attempts")),
                f'<a href="/ui/dead-letters/{esc(letter.dead_letter_id)}">'
                f"{esc(letter.dead_letter_id)}</a>" + (" (replayed)" if letter.replayed else ""),
            ]
            for letter in letters
        ]
        if not self._can_replay:
            actions = f'<p class="note">{READ_ONLY}</p>'
        else:
            actions = (
                '<p class="filter"><button type="submit" name="scope" value="selected">'
                "Replay selected</button>"
                f'<button type="submit" name="scope" value="filter">Replay all {waiting} '
                "matching</button></p>"
            )
        return (
            '<form method="post" action="/ui/dead-letters/replay">'
            f'<input type="hidden" name="tenant" value="{esc(tenant)}">'
            f'<input type="hidden" name="reason" value="{esc(reason)}">'
            f"{actions}{table(headers, rows, {5})}</form>"
        )

    async def detail(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        found = await read_selected(
            self._settings, Selection(dead_letter_ids=(wanted,), include_replayed=True)
        )
        if not found:
            return self._page(
                "Dead letter", f'<p class="error">No dead letter {esc(wanted)}.</p>', 404
            )
        letter = found[-1]
        record = letter.record
        keys: tuple[str, ...] = (
            "dead_letter_id",
            "reason",
            "error_code",
            "error_message",
            "attempts",
        )
        keys += ("first_received_at", "dead_lettered_at")
        summary = fields([(key, esc(record.get(key))) for key in keys])
        event = record.get("event")
        event_id = event.get("id") if isinstance(event, dict) else None
        tenant = letter.tenant or ""
        lookup = (
            f'<p><a href="{link("/ui/events", {"id": str(event_id), "tenant": tenant})}">'
            "Its history in the ledger</a></p>"
            if event_id
            else ""
        )
        action = f'<p class="note">{READ_ONLY}</p>'
        if letter.replayed:
            action = '<p class="note">Already replayed.</p>'
        elif self._can_replay:
            action = (
                '<form method="post" action="/ui/dead-letters/replay">'
                f'<input type="hidden" name="id" value="{esc(letter.dead_letter_id)}">'
                '<button type="submit" name="scope" value="selected">Replay this one</button>'
                "</form>"
            )
        body = f"{summary}{action}{lookup}<h2>Original event</h2><pre>{pretty(event)}</pre>"
        return self._page(f"Dead letter {letter.dead_letter_id}", body)

    async def replay(self, request: web.Request) -> web.Response:
        if not self._can_replay:
            return self._page("Replay refused", f'<p class="error">{READ_ONLY}</p>', 403)
        form = await request.post()
        selection, described = _selection(form)
        if selection is None:
            body = (
                '<p class="error">Nothing selected.</p><p><a href="/ui/dead-letters">Back</a></p>'
            )
            return self._page("Replay", body, 400)
        if form.get("confirm") != "yes":
            count = len(await read_selected(self._settings, selection))
            return self._page("Replay?", _confirmation(form, count, described))
        replayed = await replay(self._settings, selection)
        body = (
            f'<p class="note" id="replayed">Replayed {replayed} dead letter(s) into the '
            f"{esc(self._settings.input.kind)} input.</p>"
            '<p><a href="/ui/dead-letters">Back to dead letters</a></p>'
        )
        return self._page("Replayed", body)


def _matches(letter: StoredDeadLetter, tenant: str, reason: str) -> bool:
    if tenant and letter.tenant != tenant:
        return False
    return not (reason and letter.record.get("reason") != reason)


def _checkbox(dead_letter_id: str, enabled: bool) -> str:
    disabled = "" if enabled else " disabled"
    return (
        f'<input type="checkbox" name="id" value="{esc(dead_letter_id)}" '
        f'aria-label="select {esc(dead_letter_id)}"{disabled}>'
    )


def _filter_form(tenant: str, reason: str, reasons: list[str]) -> str:
    options = '<option value="">any reason</option>' + "".join(
        f'<option value="{esc(r)}"{" selected" if r == reason else ""}>{esc(r)}</option>'
        for r in reasons
    )
    return (
        '<form class="filter" method="get" action="/ui/dead-letters">'
        f'<input name="tenant" value="{esc(tenant)}" placeholder="tenant" aria-label="tenant">'
        f'<select name="reason" aria-label="reason">{options}</select>'
        '<button type="submit">Filter</button></form>'
    )


def _selection(form: Form) -> tuple[Selection | None, str]:
    """From the form: the ticked ids (scope=selected) or the filter (scope=filter)."""
    if form.get("scope") == "filter":
        tenant, reason = str(form.get("tenant", "")), str(form.get("reason", ""))
        selection = Selection(
            reasons=(reason,) if reason else (), tenants=(tenant,) if tenant else ()
        )
        described = ", ".join(
            f"{k} = {v}" for k, v in (("tenant", tenant), ("reason", reason)) if v
        )
        return (
            selection,
            f"every dead letter not yet replayed{' with ' + described if described else ''}",
        )
    ids = tuple(str(value) for value in form.getall("id", []))
    if not ids:
        return None, ""
    return Selection(dead_letter_ids=ids), "the selected dead letters"


def _confirmation(form: Form, count: int, described: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{esc(key)}" value="{esc(value)}">'
        for key, value in form.items()
        if key in ("scope", "tenant", "reason", "id") and isinstance(value, str)
    )
    return (
        f'<p>Replay <b id="replay-count">{count}</b> dead letter(s): {esc(described)}? '
        "They go back into the input with their ids and are published again.</p>"
        f'<form method="post" action="/ui/dead-letters/replay">{hidden}'
        '<input type="hidden" name="confirm" value="yes">'
        '<button type="submit" class="danger">Replay '
        f'{count}</button> <a href="/ui/dead-letters">Cancel</a></form>'
    )
