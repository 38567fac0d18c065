"""The spool's mark: a small file beside it that remembers which spool held how many events.

SQLite cannot tell a spool file that was replaced, restored from an old copy or truncated to
nothing from a new one: it just opens (or creates) a valid, emptier database, and the events
that were pending are gone without a word. The mark records the spool's identity (a random id
also stored inside the file), the highest message id handed out and the events pending; the
consumer checks the file against it at start and refuses a file that lost pending events.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
import structlog

from publisher.errors import SpoolDamaged
from publisher.inputs.spool.db import SpoolDb

log = structlog.get_logger(__name__)

ACCEPT_FLAG = "--accept-empty-spool"


@dataclass(frozen=True, slots=True)
class SpoolMark:
    spool_id: str
    high_water_id: int
    """The highest message id the spool had handed out (ids are never reused)."""
    pending: int
    """Events stored and not acknowledged when the mark was written."""


def mark_path(spool_path: Path) -> Path:
    return spool_path.with_name(spool_path.name + ".mark")


def read_mark(spool_path: Path) -> SpoolMark | None:
    """The mark, or None when there is none (a new spool, or one from an older version)."""
    try:
        data = orjson.loads(mark_path(spool_path).read_bytes())
        return SpoolMark(str(data["spool_id"]), int(data["high_water_id"]), int(data["pending"]))
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SpoolDamaged(
            f"the spool's mark {mark_path(spool_path)} cannot be read ({exc}); "
            f"delete it to trust the spool file as it is"
        ) from None


def write_mark(spool_path: Path, mark: SpoolMark) -> None:
    """Replace the mark atomically (a crash leaves the old or the new one, never half)."""
    path = mark_path(spool_path)
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps(asdict(mark)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def lost_events(mark: SpoolMark, spool_id: str | None, high_water_id: int) -> str | None:
    """Why the file is not the one the mark describes (events were lost), or None if it is."""
    if spool_id != mark.spool_id:
        if mark.pending == 0:
            return None  # replaced, but nothing was waiting in the old one
        found = f"spool id {spool_id}" if spool_id else "a new, empty file"
        return (
            f"it is not the file that held {mark.pending} pending events (spool id "
            f"{mark.spool_id}; found {found}): it was replaced or truncated"
        )
    if high_water_id < mark.high_water_id:
        return (
            f"it ends at message id {high_water_id} but had handed out ids up to "
            f"{mark.high_water_id}: it was restored from an older copy or truncated"
        )
    return None


def verify(db: SpoolDb, spool_path: Path, accept_empty: bool) -> SpoolMark:
    """At the consumer's start (inside a transaction): refuse a file that lost pending events
    (unless accept_empty), give a new file its identity; return the mark to write now."""
    mark = read_mark(spool_path)
    spool_id = db.identity()
    high_water = db.high_water()
    lost = None if mark is None else lost_events(mark, spool_id, high_water)
    if lost is not None and not accept_empty:
        raise SpoolDamaged(
            f"the spool {spool_path} lost events: {lost}. Restore the file that held them, "
            f"or run with {ACCEPT_FLAG} to go on without them"
        )
    if lost is not None:
        log.warning("spool_loss_accepted", path=str(spool_path), lost=lost)
    if spool_id is None:
        spool_id = db.new_identity()
    return SpoolMark(spool_id, high_water, db.backlog())
