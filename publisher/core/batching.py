"""Batch assembly for PutPartnerEvents: by count, by AWS-counted bytes, by linger time. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def size(self) -> int: ...


T = TypeVar("T", bound=Sized)


@dataclass(slots=True)
class Batch(Generic[T]):
    """Entries bound for one Region's endpoint in one call."""

    region: str
    entries: list[T] = field(default_factory=list)
    size: int = 0
    deadline: float = 0.0


class Batcher(Generic[T]):
    """Keeps one open batch per Region and closes it when full, too big or lingered long enough.

    Every closed batch has 1..max_entries entries whose sizes sum to less than max_bytes (AWS
    counts the total as "less than" the limit: docs/aws-contract.md, "PutPartnerEvents: entry
    size"). An entry of max_bytes or more on its own can never be sent; callers must not add
    one.
    """

    def __init__(self, max_entries: int, max_bytes: int, linger_s: float) -> None:
        if not max_entries >= 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.linger_s = linger_s
        self._open: dict[str, Batch[T]] = {}

    def add(self, item: T, now: float) -> tuple[Batch[T], ...]:
        """Add one entry; return the batches this closed (at most two, usually none).

        A tuple: nothing is allocated for the usual answer, none, once per event.
        """
        if item.size >= self.max_bytes:
            raise ValueError(f"entry of {item.size} bytes is not under max_bytes {self.max_bytes}")
        closed: tuple[Batch[T], ...] = ()
        batch = self._open.get(item.region)
        if batch is not None and batch.size + item.size >= self.max_bytes:
            closed = (self._open.pop(item.region),)
            batch = None
        if batch is None:
            batch = Batch(item.region, deadline=now + self.linger_s)
            self._open[item.region] = batch
        batch.entries.append(item)
        batch.size += item.size
        if len(batch.entries) >= self.max_entries:
            closed = (*closed, self._open.pop(item.region))
        return closed

    def due(self, now: float) -> list[Batch[T]]:
        """Close and return the batches whose linger time has passed."""
        regions = [region for region, batch in self._open.items() if batch.deadline <= now]
        return [self._open.pop(region) for region in regions]

    def next_deadline(self) -> float | None:
        return min((batch.deadline for batch in self._open.values()), default=None)

    def flush(self) -> list[Batch[T]]:
        """Close every open batch (shutdown)."""
        batches = list(self._open.values())
        self._open.clear()
        return batches

    def __len__(self) -> int:
        """Entries waiting in open batches."""
        return sum(len(batch.entries) for batch in self._open.values())
