"""Whether a spool file is damaged, and what to tell the person who has to repair it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from publisher.errors import SpoolDamaged


def is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def integrity_problems(conn: sqlite3.Connection, limit: int = 20) -> list[str]:
    """What PRAGMA quick_check finds wrong (b-trees, pages, records), at most `limit`."""
    rows = conn.execute(f"PRAGMA quick_check({int(limit)})").fetchall()
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems


def damage_report(path: Path, detail: str) -> str:
    """The start-up refusal: what is wrong and the commands that look and salvage."""
    return (
        f"the spool {path} is damaged ({detail}); nothing was changed. "
        "`partner-publisher spool check --config CONFIG` lists the damage; "
        "`partner-publisher spool salvage --config CONFIG` copies every readable event into "
        "a new spool file and keeps the damaged one beside it"
    )


def check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse (SpoolDamaged) a file in which the first problems are found."""
    problems = integrity_problems(conn, limit=3)
    if problems:
        raise SpoolDamaged(damage_report(path, "; ".join(problems)))
