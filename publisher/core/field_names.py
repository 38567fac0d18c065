"""Near-miss event field names: `detail-type`, `detailType` or `DetailType` mean `detail_type`.

Only consulted once an event is known to be invalid, so it costs nothing on the hot path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def _folded(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


def intended_field(unknown: str, known: Iterable[str]) -> str | None:
    """The known field `unknown` most likely means: same letters ignoring case and - _ or
    space, else a close spelling; None when nothing is close."""
    by_folded = {_folded(name): name for name in known}
    folded = _folded(unknown)
    if folded in by_folded:
        return by_folded[folded]
    close = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.75)
    return by_folded[close[0]] if close else None


def unknown_field_rule(unknown: str, known: Iterable[str]) -> str:
    """The rule text for an unknown field, with the intended name when there is one."""
    intended = intended_field(unknown, known)
    if intended is None:
        return "unknown field (fields: " + ", ".join(sorted(known)) + ")"
    return f"unknown field; did you mean {intended}?"
