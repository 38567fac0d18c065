"""Fair shares of the send capacity across tenants: deficit round robin with weights, and
per-tenant rate limits (token buckets). Pure: time is passed in, nothing is awaited.

A tenant's events wait for its turn in the round, never for another tenant's backlog: each
turn a tenant may send up to `weight * quantum` events, and a tenant over its
`max_events_per_s` is skipped (its events wait) without holding up the others.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat, starmap
from typing import Generic, Protocol, TypeVar


class Fair(Protocol):
    @property
    def tenant(self) -> str: ...

    @property
    def size(self) -> int: ...


T = TypeVar("T", bound=Fair)


@dataclass(frozen=True, slots=True)
class Share:
    """A tenant's share: its weight against the others and its optional rate limit."""

    weight: float = 1.0
    max_events_per_s: float | None = None


EQUAL_SHARE = Share()
ShareOf = Callable[[str], Share]


class TokenBucket:
    """At most `rate` events a second on average, bursts of up to one second's worth."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self._tokens = self.burst
        self._at = now

    def available(self, now: float) -> float:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
        return self._tokens

    def take(self, count: int) -> None:
        self._tokens -= count

    def next_token_at(self, now: float) -> float:
        """When at least one whole token will be there again."""
        missing = 1.0 - self.available(now)
        return now if missing <= 0 else now + missing / self.rate


@dataclass(slots=True, eq=False)
class _Lane(Generic[T]):
    tenant: str
    items: deque[T] = field(default_factory=deque)
    deficit: float = 0.0
    in_turn: bool = False
    active: bool = False
    uncounted: int = 0
    """Items at the tail not yet counted as throttled (each is counted once)."""


class FairQueue(Generic[T]):
    """Items queued per tenant, taken out in batches by weighted deficit round robin."""

    def __init__(self, share_of: ShareOf, quantum: int) -> None:
        self._share_of = share_of
        self._quantum = quantum
        self._lanes: dict[str, _Lane[T]] = {}
        self._round: deque[_Lane[T]] = deque()  # lanes with items, the one whose turn it is first
        self._buckets: dict[str, TokenBucket] = {}
        self.count = 0
        self.bytes = 0
        self.throttled = 0
        """Items that waited for their tenant's rate limit, each counted once."""
        self.taken_by_tenant: dict[str, int] = {}
        """Items taken per tenant since the start (counted per turn, not per item)."""
        self.last_size = 0
        """The sum of the sizes of the items the last take() returned."""

    def __len__(self) -> int:
        return self.count

    def push(self, item: T) -> None:
        self.push_all((item,))

    def push_all(self, items: Sequence[T]) -> None:
        """Queue items in order, each under its tenant."""
        if not items:
            return
        tenants = [item.tenant for item in items]
        if tenants.count(tenants[0]) == len(tenants):
            self._push_one_tenant(tenants[0], items)
            return
        lanes, rounds = self._lanes, self._round
        size = 0
        for item in items:
            lane = lanes.get(item.tenant)
            if lane is None:
                lane = lanes[item.tenant] = _Lane(item.tenant)
            lane.items.append(item)
            lane.uncounted += 1
            if not lane.active:
                lane.active = True
                rounds.append(lane)
            size += item.size
        self.count += len(items)
        self.bytes += size

    def _push_one_tenant(self, tenant: str, items: Sequence[T]) -> None:
        """push_all for items of one tenant (a fetch mostly is): one extend, not one per item."""
        lane = self._lanes.get(tenant)
        if lane is None:
            lane = self._lanes[tenant] = _Lane(tenant)
        lane.items.extend(items)
        lane.uncounted += len(items)
        if not lane.active:
            lane.active = True
            self._round.append(lane)
        self.count += len(items)
        self.bytes += sum([item.size for item in items])

    def queued(self, tenant: str) -> int:
        lane = self._lanes.get(tenant)
        return len(lane.items) if lane is not None else 0

    def tenants(self) -> dict[str, deque[T]]:
        """Each tenant with items queued, and those items, oldest first."""
        return {lane.tenant: lane.items for lane in self._round}

    def take(self, max_items: int, max_bytes: int, now: float) -> list[T]:
        """Up to max_items whose sizes sum to at most max_bytes, tenants in turn."""
        batch: list[T] = []
        size = 0
        skipped = 0
        rounds = self._round
        while rounds and len(batch) < max_items and skipped < len(rounds):
            lane = rounds[0]
            allowed = self._allowed(lane, now)
            if allowed < 1:
                self.throttled += lane.uncounted
                lane.uncounted = 0
                lane.in_turn = False
                rounds.rotate(-1)
                skipped += 1
                continue
            skipped = 0
            if not lane.in_turn:
                lane.in_turn = True
                lane.deficit += self._share_of(lane.tenant).weight * self._quantum
            room = min(max_items - len(batch), math.floor(min(allowed, lane.deficit)))
            taken, size = _move(lane.items, batch, room, max_bytes - size, size)
            self._taken(lane, taken)
            if lane.items and taken < room:
                break  # the next item does not fit in this batch's bytes
            if not lane.items:
                lane.deficit, lane.in_turn, lane.active = 0.0, False, False
                rounds.popleft()
            elif lane.deficit < 1:
                lane.in_turn = False
                rounds.rotate(-1)
        self.count -= len(batch)
        self.bytes -= size
        self.last_size = size
        return batch

    def next_token_at(self, now: float) -> float | None:
        """When a tenant now held back by its rate limit may send again; None if none is."""
        times = [
            bucket.next_token_at(now)
            for lane in self._round
            if (bucket := self._buckets.get(lane.tenant)) is not None and bucket.available(now) < 1
        ]
        return min(times, default=None)

    def _allowed(self, lane: _Lane[T], now: float) -> float:
        limit = self._share_of(lane.tenant).max_events_per_s
        if limit is None:
            return math.inf
        bucket = self._buckets.get(lane.tenant)
        if bucket is None or bucket.rate != limit:
            bucket = self._buckets[lane.tenant] = TokenBucket(limit, now)
        return bucket.available(now)

    def _taken(self, lane: _Lane[T], taken: int) -> None:
        lane.deficit -= taken
        counts = self.taken_by_tenant
        counts[lane.tenant] = counts.get(lane.tenant, 0) + taken
        lane.uncounted = min(lane.uncounted, len(lane.items))
        bucket = self._buckets.get(lane.tenant)
        if bucket is not None:
            bucket.take(taken)


def _move(
    source: deque[T], batch: list[T], room: float, bytes_left: int, size: int
) -> tuple[int, int]:
    """Move items from the front of source into batch while they fit; (moved, new size)."""
    if room <= 0:
        return 0, size
    # One comprehension reads the sizes and starmap moves the items (popleft called from C),
    # rather than a loop of several steps per item; sizes are added up one by one only when
    # they do not all fit.
    sizes = [item.size for item in islice(source, math.ceil(min(room, len(source))))]
    fitting = sum(sizes)
    moved = len(sizes)
    if fitting > bytes_left:
        fitting = moved = 0
        for item_size in sizes:
            if fitting + item_size > bytes_left:
                break
            fitting += item_size
            moved += 1
    batch.extend(starmap(source.popleft, repeat((), moved)))
    return moved, size + fitting


def split_fairly(
    room: int, tenants: Sequence[str], share_of: ShareOf, allowance: Callable[[str], float]
) -> dict[str, int]:
    """Share `room` reads among tenants by weight, none over its allowance (what a capped
    tenant cannot use goes to the others); the first tenants in `tenants` get the remainders
    of the rounding (callers rotate the order from call to call)."""
    caps = {t: _whole(allowance(t)) for t in tenants}
    open_ = [t for t in tenants if caps[t] >= 1]
    if len(open_) > room:
        open_ = open_[:room]  # one each this time; the others come first next time
    quotas = dict.fromkeys(open_, 0)
    left = room
    while left > 0 and open_:
        total = sum(share_of(t).weight for t in open_)
        given = 0
        for tenant in open_:
            more = min(
                math.floor(left * share_of(tenant).weight / total), caps[tenant] - quotas[tenant]
            )
            quotas[tenant] += int(more)
            given += int(more)
        if not given:  # the rounding remainders, one each in order
            for tenant in open_[:left]:
                quotas[tenant] += 1
                given += 1
        left -= given
        open_ = [t for t in open_ if quotas[t] < caps[t]]
    return {t: n for t, n in quotas.items() if n > 0}


def _whole(allowance: float) -> float:
    return allowance if allowance == math.inf else math.floor(allowance)
