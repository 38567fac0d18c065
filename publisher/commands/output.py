"""How commands print results: a table for people, or one JSON object per line for scripts.

Tables take the union of the rows' keys as columns, upper-cased, and show empty values as `-`
and datetimes in UTC to the second; JSON keeps datetimes as ISO 8601 with their fraction.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """`--output table|json`, table by default."""
    parser.add_argument("--output", choices=["table", "json"], default="table")


def print_json(value: Any) -> None:
    """One JSON line on stdout."""
    print(orjson.dumps(plain(value)).decode())


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
    """A value as a table cell."""
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
    """Rows as a table, or one JSON line each; with no rows, `empty` goes to stderr."""
    if output == "json":
        for row in rows:
            print_json(row)
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
        print_json({k: record.get(k) for k in keys})
        return
    width = max(len(k) for k in keys)
    for key in keys:
        print(f"{key.ljust(width)}  {cell(record.get(key))}")
