"""Rows 11, 12, 14: ingest answers what the pipeline would decide, on every body format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chaos.harness import published_numbers
from tests.conftest import emulator_process
from tests.e2e.processes import (
    LENIENT,
    daemon,
    read_jsonl,
    wait_until,
    write_config,
)

NDJSON = "application/x-ndjson"
JSON = "application/json"


def deep_event_line(depth: int) -> str:
    """An event whose detail nests `depth` levels around a 19-digit integer (built as text:
    the stdlib cannot encode it)."""
    detail = '{"a":' * (depth - 1) + '{"leaf":1000000000000000000}' + "}" * (depth - 1)
    return '{"tenant":"acme","detail_type":"Deep","detail":' + detail + "}"


def test_an_event_over_max_request_bytes_is_answered_400_on_every_format(
    tmp_path: Path,
) -> None:
    # Before: 202, then dead-lettered `too_large`.
    with emulator_process(LENIENT) as url:
        config = write_config(tmp_path, url, publish={"max_request_bytes": 4096})
        with daemon(config) as proc:
            big = {"tenant": "acme", "detail_type": "Big", "detail": {"pad": "x" * 5000}}
            for body, content_type in (
                (json.dumps(big).encode(), JSON),
                (json.dumps([big]).encode(), JSON),
                (json.dumps(big).encode() + b"\n", NDJSON),
            ):
                status, reply = proc.post(body, content_type)
                assert status == 400, reply
                assert "over publish.max_request_bytes 4096" in reply["rejected"][0]["error"]
            small = {"tenant": "acme", "detail_type": "Small", "detail": {"n": 7}}
            status, reply = proc.post(json.dumps([big, small]).encode(), JSON)
            assert (status, reply["accepted"], reply["rejected"][0]["index"]) == (202, 1, 0)
            wait_until(lambda: published_numbers(url) == {7: 1}, 10, "the small one")
        assert read_jsonl(tmp_path / "dead-letters.jsonl") == []


@pytest.mark.parametrize("depth", [999, 1001])
def test_json_and_ndjson_agree_on_deep_details_with_long_integers(
    tmp_path: Path, depth: int
) -> None:
    # Before: 999 deep with a 19-digit integer: JSON 400 "maximum recursion depth exceeded",
    # NDJSON 202.
    line = deep_event_line(depth)
    with emulator_process(LENIENT) as url, daemon(write_config(tmp_path, url)) as proc:
        answers = [
            proc.post(line.encode(), JSON),
            proc.post(f"[{line}]".encode(), JSON),
            proc.post(line.encode() + b"\n", NDJSON),
        ]
        statuses = {status for status, _ in answers}
        assert statuses == ({202} if depth <= 1000 else {400}), answers
        if depth > 1000:
            assert all("deeper than 1000" in json.dumps(reply) for _, reply in answers)
            return
        # And the pipeline agrees: all three are published, none dead-lettered.
        wait_until(
            lambda: proc.metric("publisher_events_published_total") == 3, 20, "the deep events"
        )
        assert read_jsonl(tmp_path / "dead-letters.jsonl") == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"],
)
def test_other_content_types_are_415(tmp_path: Path, content_type: str) -> None:
    # Before: parsed as JSON.
    event = {"tenant": "acme", "detail_type": "T", "detail": {"n": 1}}
    with emulator_process(LENIENT) as url, daemon(write_config(tmp_path, url)) as proc:
        status, reply = proc.post(json.dumps(event).encode(), content_type)
        assert status == 415
        assert content_type in reply["error"]
        assert "application/json" in reply["error"]


def test_iso_basic_times_are_not_rfc_3339(tmp_path: Path) -> None:
    # Before: 20261122T050000Z passed as RFC 3339.
    with emulator_process(LENIENT) as url, daemon(write_config(tmp_path, url)) as proc:
        bad = {"tenant": "acme", "detail_type": "T", "detail": {}, "time": "20261122T050000Z"}
        status, reply = proc.post(json.dumps(bad).encode(), JSON)
        assert status == 400
        assert "is not an RFC 3339 timestamp" in reply["rejected"][0]["error"]
        good = {**bad, "time": "2026-11-22T05:00:00Z", "detail": {"n": 1}}
        assert proc.post(json.dumps(good).encode(), JSON)[0] == 202
