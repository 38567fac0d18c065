"""The JSON Lines dead-letter store: one complete record per event, append-only, readable."""

from __future__ import annotations

from pathlib import Path

import orjson

from publisher.core.message import Message
from publisher.core.reasons import Reason
from publisher.engine.deadletter import DeadLetter, JsonlDeadLetters, read_dead_letters

RECEIVED = 1_795_323_600.0  # 2026-11-22T05:00:00Z
NOW = RECEIVED + 90.25
EVENT = {"tenant": "acme", "detail_type": "T", "detail": {"n": 1, "s": "é"}, "id": "ord-1"}


def letter(body: bytes, reason: str = Reason.REJECTED, **kwargs: object) -> DeadLetter:
    fields: dict[str, object] = {
        "error_code": "MalformedDetail",
        "error_message": "Detail is malformed.",
        "attempts": 1,
        "tenant": None,
        "event_id": None,
    }
    fields.update(kwargs)
    return DeadLetter(Message("m-1", body, RECEIVED), reason, **fields)  # type: ignore[arg-type]


def lines(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [orjson.loads(line) for line in raw.splitlines()]


def append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


async def test_one_line_per_letter_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "dl.jsonl"
    store = JsonlDeadLetters(path, clock=lambda: NOW)
    await store.write(
        [
            letter(orjson.dumps(EVENT)),
            letter(
                b'{"tenant":"x"}',
                Reason.ATTEMPTS_EXHAUSTED,
                error_code="InternalFailure",
                error_message="try later",
                attempts=12,
            ),
        ]
    )
    store.close()
    records = lines(path)
    assert len(records) == 2
    first, second = records
    assert first["event"] == EVENT
    assert first["reason"] == "rejected"
    assert first["error_code"] == "MalformedDetail"
    assert first["error_message"] == "Detail is malformed."
    assert first["attempts"] == 1
    assert first["first_received_at"] == "2026-11-22T05:00:00.000+00:00"
    assert first["dead_lettered_at"] == "2026-11-22T05:01:30.250+00:00"
    assert first["message_id"] == "m-1"
    assert second["event"] == {"tenant": "x"}
    assert second["reason"] == "attempts_exhausted"
    assert second["error_code"] == "InternalFailure"
    assert second["attempts"] == 12
    assert first["dead_letter_id"] != second["dead_letter_id"]
    assert store.written == 2


async def test_body_that_is_not_json_is_kept_as_text(tmp_path: Path) -> None:
    path = tmp_path / "dl.jsonl"
    store = JsonlDeadLetters(path, clock=lambda: NOW)
    await store.write(
        [
            letter(b"not json {", Reason.INVALID_JSON, error_code="invalid_json"),
            letter(b"caf\xc3\xa9 \xff", Reason.INVALID_JSON, error_code="invalid_json"),
        ]
    )
    store.close()
    first, second = lines(path)
    assert first["event"] == "not json {"
    assert first["reason"] == "invalid_json"
    assert second["event"] == "café \\xff"  # invalid UTF-8 survives as an escape


async def test_appends_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "dl.jsonl"  # parent directories are created
    first = JsonlDeadLetters(path, clock=lambda: NOW)
    await first.write([letter(b'{"n":1}')])
    first.close()
    second = JsonlDeadLetters(path, clock=lambda: NOW)
    await second.write([letter(b'{"n":2}')])
    await second.write([letter(b'{"n":3}'), letter(b'{"n":4}')])
    second.close()
    assert [r["event"] for r in lines(path)] == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]
    assert second.written == 3


async def test_each_write_is_on_disk_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "dl.jsonl"
    store = JsonlDeadLetters(path, clock=lambda: NOW)
    await store.write([letter(b'{"n":1}')])
    # Read while the store is still open: nothing is left in a buffer.
    assert [r["event"] for r in lines(path)] == [{"n": 1}]
    store.close()


async def test_empty_write_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "dl.jsonl"
    store = JsonlDeadLetters(path)
    await store.write([])
    store.close()
    assert not path.exists()
    assert store.written == 0


async def test_read_dead_letters_returns_records_in_order(tmp_path: Path) -> None:
    path = tmp_path / "dl.jsonl"
    store = JsonlDeadLetters(path, clock=lambda: NOW)
    await store.write([letter(b'{"n":1}'), letter(b"raw")])
    store.close()
    assert [r["event"] for r in read_dead_letters(path)] == [{"n": 1}, "raw"]


async def test_read_dead_letters_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "dl.jsonl"
    store = JsonlDeadLetters(path, clock=lambda: NOW)
    await store.write([letter(b'{"n":1}'), letter(b'{"n":2}')])
    store.close()
    append_bytes(path, b'{"event":{"n":3},"reason":"rej')  # crash in the middle of a write
    records = list(read_dead_letters(path))
    assert [r["event"] for r in records] == [{"n": 1}, {"n": 2}]


async def test_records_written_after_a_torn_line_stay_readable(tmp_path: Path) -> None:
    # A crash left a torn last line; the restarted daemon must not glue its first new
    # record onto it (that record would then be unreadable, and it is acked already).
    path = tmp_path / "dl.jsonl"
    path.write_bytes(b'{"event":{"n":0}}\n\n{"event":{"n":')
    store = JsonlDeadLetters(path, clock=lambda: NOW)
    await store.write([letter(b'{"n":1}')])
    await store.write([letter(b'{"n":2}')])
    store.close()
    assert [r["event"] for r in read_dead_letters(path)] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_read_dead_letters_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert list(read_dead_letters(tmp_path / "missing.jsonl")) == []
