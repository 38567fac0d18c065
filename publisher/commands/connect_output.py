"""How `partner-publisher connect` prints: tables or JSON lines, ISO dates, clear AWS errors."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from publisher.aws import failures
from publisher.connect.calls import ConnectError
from publisher.connect.verify import FAIL, Check


def explain(exc: ConnectError) -> str:
    """One line for stderr: operation, AWS's code and message, and what to do about it."""
    return failures.explain(exc.code, exc.message, exc.operation)


def plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601, containers walked."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def cell(value: Any) -> str:
    if value is None or value == {} or value == []:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    return str(value)


def emit_rows(output: str, rows: Sequence[dict[str, Any]], empty: str = "") -> None:
    if output == "json":
        for row in rows:
            print(orjson.dumps(plain(row)).decode())
        return
    if not rows:
        if empty:
            print(empty, file=sys.stderr)
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(r[i]) for r in table)) for i, column in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in table:
        print("  ".join(value.ljust(w) for value, w in zip(line, widths, strict=True)).rstrip())


def emit_record(output: str, record: dict[str, Any], fields: Sequence[str] = ()) -> None:
    """One resource: a JSON line, or one `FIELD  value` line per field (missing ones as -)."""
    keys = list(dict.fromkeys([*fields, *record]))
    if output == "json":
        print(orjson.dumps(plain({k: record.get(k) for k in keys})).decode())
        return
    width = max(len(k) for k in keys)
    for key in keys:
        print(f"{key.ljust(width)}  {cell(record.get(key))}")


def emit_checks(output: str, checks: Sequence[Check]) -> None:
    ok = all(check.result != FAIL for check in checks)
    if output == "json":
        print(orjson.dumps({"ok": ok, "checks": [c.to_json() for c in checks]}).decode())
        return
    for check in checks:
        print(f"{check.result}  {check.link}: {check.detail}")
        if check.fix:
            print(f"      fix: {check.fix}")
    print(
        "chain complete" if ok else "chain incomplete: run the first fix above, then verify again"
    )
