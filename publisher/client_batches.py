"""What the ingest clients share (publisher.client): ids, batches, answers, backoff. Pure and
standard library only, so the sync client needs nothing else.

Every event gets its id before the first attempt (a UUID where it had none), so a retry of a
request whose answer was lost is recognised by ingest as a duplicate, never stored twice.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event ingest refused (or that could not be sent), and why."""

    index: int
    """Its position in the events given to publish()."""
    id: str
    error: str


@dataclass(slots=True)
class PublishResult:
    accepted: list[str] = field(default_factory=list)
    """The ids of the events ingest stored (or had stored before: see duplicates)."""
    duplicates: int = 0
    """How many accepted events ingest had already stored within its dedupe window."""
    rejected: list[Rejection] = field(default_factory=list)


class PublishError(Exception):
    """Ingest refused the request as a whole (401, or still failing after every retry).

    `result` holds what was settled before; publishing the same events again is safe: they
    keep their ids, so what was stored already counts as a duplicate.
    """

    def __init__(self, message: str, result: PublishResult, status: int | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.status = status


@dataclass(frozen=True, slots=True)
class Item:
    index: int
    id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    content_type: str
    items: list[Item]

    def body(self) -> bytes:
        return b"[" + b",".join(item.body for item in self.items) + b"]"

    def halves(self) -> tuple[Batch, Batch]:
        middle = len(self.items) // 2
        return (
            Batch(self.content_type, self.items[:middle]),
            Batch(self.content_type, self.items[middle:]),
        )


def with_id(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event (or CloudEvent) with an id, a new UUID if it had none."""
    copy = dict(event)
    if copy.get("id") is None:
        copy["id"] = str(uuid.uuid4())
    return copy


def plan_batches(
    events: Iterable[Mapping[str, Any]], max_body_bytes: int, result: PublishResult
) -> list[Batch]:
    """Events (ids assigned) packed into JSON-array bodies within max_body_bytes; CloudEvents
    (those with `specversion`) go in batches of their own. An event too large alone is
    rejected into `result` at once."""
    open_batches: dict[str, list[Item]] = {JSON: [], CLOUDEVENTS_BATCH: []}
    sizes = {JSON: 2, CLOUDEVENTS_BATCH: 2}  # the brackets
    batches: list[Batch] = []
    for index, event in enumerate(events):
        event = with_id(event)
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        kind = CLOUDEVENTS_BATCH if "specversion" in event else JSON
        if len(body) + 2 > max_body_bytes:
            error = f"event: {len(body)} bytes is over the body limit of {max_body_bytes}"
            result.rejected.append(Rejection(index, str(event["id"]), error))
            continue
        if open_batches[kind] and sizes[kind] + 1 + len(body) > max_body_bytes:
            batches.append(Batch(kind, open_batches[kind]))
            open_batches[kind], sizes[kind] = [], 2
        open_batches[kind].append(Item(index, str(event["id"]), body))
        sizes[kind] += len(body) + 1
    batches += [Batch(kind, items) for kind, items in open_batches.items() if items]
    return batches


def settle(batch: Batch, status: int, answer: Any, result: PublishResult) -> None:
    """Record a 202 or 400 answer for the batch in the result."""
    answer = answer if isinstance(answer, dict) else {}
    errors = {
        entry.get("index"): str(entry.get("error"))
        for entry in answer.get("rejected") or []
        if isinstance(entry, dict)
    }
    if status == 400 and not errors:  # the body as a whole was refused
        errors = {i: str(answer.get("error", "refused")) for i in range(len(batch.items))}
    for position, item in enumerate(batch.items):
        if position in errors:
            result.rejected.append(Rejection(item.index, item.id, errors[position]))
        else:
            result.accepted.append(item.id)
    if status == 202:
        result.duplicates += int(answer.get("duplicates", 0))


class Attempts:
    """One batch's attempts at ingest, as both clients run them: what each answer or network
    error means for the batch, the wait before the next attempt, and the error on giving up."""

    def __init__(
        self,
        batch: Batch,
        result: PublishResult,
        max_attempts: int,
        base_delay_s: float,
        max_delay_s: float,
    ) -> None:
        self.batch = batch
        self.result = result
        self.max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._problem = ""
        self._retry_after: str | None = None

    def answered(self, status: int, retry_after: str | None, answer: Any) -> list[Batch] | None:
        """The batches still to send once the answer settles this one (none, or its halves);
        None to try again. Raises PublishError for an answer that no retry can change."""
        outcome = apply_answer(self.batch, status, answer, self.result)
        if not isinstance(outcome, str):
            return outcome
        self._problem, self._retry_after = outcome, retry_after
        return None

    def failed(self, exc: BaseException) -> None:
        """The request got no answer; a network error is always worth another attempt."""
        self._problem, self._retry_after = f"network error: {exc!r}", None

    def pause_s(self, attempt: int) -> float:
        return backoff_s(attempt, self._base_delay_s, self._max_delay_s, self._retry_after)

    def gave_up(self) -> PublishError:
        message = f"gave up after {self.max_attempts} attempts; {self._problem}"
        return PublishError(message, self.result)


def backoff_s(attempt: int, base_s: float, max_s: float, retry_after: str | None) -> float:
    """Full jitter on an exponential ceiling, and never less than the server's Retry-After."""
    delay = random.uniform(0, min(max_s, base_s * 2**attempt))
    if retry_after is not None and retry_after.strip().isdigit():
        delay = max(delay, float(retry_after))  # an HTTP date instead: our own backoff stands
    return delay


def decode_answer(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def next_step(status: int, batch: Batch) -> str:
    """What an answer means for a batch: settle, split (413 for several), too_large, retry or
    fail (401 and other 4xx: a retry would get the same answer)."""
    if status in (202, 400):
        return "settle"
    if status == 413:
        return "split" if len(batch.items) > 1 else "too_large"
    if status in RETRYABLE_STATUSES:
        return "retry"
    return "fail"


def reject_all(batch: Batch, error: str, result: PublishResult) -> None:
    result.rejected.extend(Rejection(item.index, item.id, error) for item in batch.items)


def apply_answer(
    batch: Batch, status: int, answer: Any, result: PublishResult
) -> list[Batch] | str:
    """What ingest's answer means for the batch: the batches still to send (none once it is
    settled, its halves when it must be split), or the problem to report before a retry.
    Raises PublishError for an answer that no retry can change."""
    step = next_step(status, batch)
    if step == "settle":
        settle(batch, status, answer, result)
        return []
    if step == "split":
        return list(batch.halves())
    if step == "too_large":
        reject_all(batch, "event: over the server's body limit (413)", result)
        return []
    problem = f"ingest answered {status}: {answer}"
    if step == "fail":
        raise PublishError(problem, result, status)
    return problem
