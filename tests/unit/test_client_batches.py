"""The ingest client's pure parts: ids, batches by size and kind, answers, backoff."""

from __future__ import annotations

import json
from typing import Any

import pytest

from publisher.client_batches import (
    CLOUDEVENTS_BATCH,
    JSON,
    PublishResult,
    Rejection,
    backoff_s,
    next_step,
    plan_batches,
    settle,
)


def event(n: int, **extra: Any) -> dict[str, Any]:
    return {"tenant": "acme", "detail_type": "T", "detail": {"n": n}, **extra}


def test_ids_are_assigned_once_and_kept() -> None:
    given = event(0, id="mine")
    result = PublishResult()
    (batch,) = plan_batches([given, event(1)], 10_000, result)
    sent = json.loads(batch.body())
    assert sent[0]["id"] == "mine"
    assert len(sent[1]["id"]) == 36
    assert [item.id for item in batch.items] == [sent[0]["id"], sent[1]["id"]]
    assert "id" not in event(1)  # the caller's dicts are not changed


def test_batches_stay_within_the_body_limit_and_split_by_kind() -> None:
    cloudevent = {"specversion": "1.0", "id": "c", "source": "/s", "type": "T", "tenant": "a"}
    items = [event(n, id=f"e{n}") for n in range(50)] + [cloudevent]
    result = PublishResult()
    batches = plan_batches(items, 600, result)
    assert all(len(batch.body()) <= 600 for batch in batches)
    assert [b.content_type for b in batches].count(CLOUDEVENTS_BATCH) == 1
    json_items = [item.index for b in batches if b.content_type == JSON for item in b.items]
    assert json_items == list(range(50))
    assert result.rejected == []


def test_an_event_larger_than_the_limit_is_rejected_at_once() -> None:
    result = PublishResult()
    batches = plan_batches([event(0, id="big", detail={"x": "y" * 1000}), event(1)], 500, result)
    assert [item.index for batch in batches for item in batch.items] == [1]
    assert [(r.index, r.id) for r in result.rejected] == [(0, "big")]


def test_answers_settle_by_position_in_the_batch() -> None:
    result = PublishResult()
    (batch,) = plan_batches([event(n, id=f"e{n}") for n in range(3)], 10_000, result)
    answer = {"accepted": 2, "duplicates": 1, "rejected": [{"index": 1, "error": "bad"}]}
    settle(batch, 202, answer, result)
    assert (result.accepted, result.duplicates) == (["e0", "e2"], 1)
    assert result.rejected == [Rejection(1, "e1", "bad")]


def test_a_body_refused_as_a_whole_rejects_every_event() -> None:
    result = PublishResult()
    (batch,) = plan_batches([event(n, id=f"e{n}") for n in range(2)], 10_000, result)
    settle(batch, 400, {"error": "the body is empty"}, result)
    assert [r.error for r in result.rejected] == ["the body is empty"] * 2


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (202, "settle"),
        (400, "settle"),
        (413, "split"),
        (503, "retry"),
        (429, "retry"),
        (401, "fail"),
    ],
)
def test_next_step(status: int, step: str) -> None:
    result = PublishResult()
    (batch,) = plan_batches([event(0), event(1)], 10_000, result)
    assert next_step(status, batch) == step


def test_backoff_waits_at_least_retry_after_and_ignores_dates() -> None:
    assert all(backoff_s(0, 0.1, 10, "3") >= 3 for _ in range(100))
    assert all(backoff_s(0, 0.1, 10, "Wed, 21 Oct 2015 07:28:00 GMT") <= 0.1 for _ in range(100))
    assert all(backoff_s(20, 0.1, 2.0, None) <= 2.0 for _ in range(100))
