"""Lanes: one input made of several streams or queues, tenants routed to them, read fairly.

A Redis stream or an SQS queue hands out entries first in, first out: one tenant's backlog
there stands before every later event. Routing tenants to several lanes (`input.streams`,
`input.queue_urls`) and sharing each fetch among the lanes lets a tenant on a quiet lane get
through while another lane holds a flood. Each lane is a whole input of its own; a message's
id carries its lane's number (`<lane>/<id>`), so that acks and releases find their way back.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from publisher.core.event import tenant_of
from publisher.core.message import Message
from publisher.inputs.base import Input


def lane_of(tenant: str, names: Sequence[str], routes: Mapping[str, str]) -> int:
    """The lane of a tenant: the one its route names, else a stable hash of its id."""
    named = routes.get(tenant)
    if named is not None:
        return names.index(named)
    return zlib.crc32(tenant.encode()) % len(names)


def _shares(lanes: Sequence[int], total: int) -> dict[int, int]:
    """`total` split evenly among lanes, the first ones taking the remainder."""
    each, rest = divmod(total, len(lanes))
    return {index: each + (k < rest) for k, index in enumerate(lanes)}


def _tagged(index: int, messages: list[Message]) -> list[Message]:
    for message in messages:
        message.id = f"{index}/{message.id}"
    return messages


class LanedInput:
    """Implements the Input protocol over several inputs of one kind, one per lane."""

    def __init__(self, lanes: Sequence[Input], names: Sequence[str], routes: Mapping[str, str]):
        if len(lanes) != len(names) or not lanes:
            raise ValueError("one name per lane, at least one lane")
        self._lanes = list(lanes)
        self._names = list(names)
        self._routes = dict(routes)
        self._turn = 0
        self._waits: dict[int, asyncio.Task[list[Message]]] = {}
        """Lane fetches still waiting for their first message, started by an earlier fetch."""

    @property
    def lease_renew_s(self) -> float | None:
        renewals = [r for lane in self._lanes if (r := lane.lease_renew_s) is not None]
        return min(renewals, default=None)

    async def start(self) -> None:
        for lane in self._lanes:
            await lane.start()

    async def close(self) -> None:
        """Let the waits under way finish and give back what they brought, then close."""
        waits = list(self._waits.items())
        self._waits.clear()
        for index, task in waits:
            try:
                messages = await task
            except Exception:
                continue
            await self._lanes[index].release(messages)
        for lane in self._lanes:
            await lane.close()

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Each body into its tenant's lane (a body without a tenant goes by the hash of '')."""
        by_lane: dict[int, list[bytes]] = {}
        for body in bodies:
            by_lane.setdefault(self.lane_of(tenant_of(body)), []).append(body)
        for index, lane_bodies in by_lane.items():
            await self._lanes[index].put(lane_bodies)

    def lane_of(self, tenant: str) -> int:
        return lane_of(tenant, self._names, self._routes)

    async def fetch(self, max_messages: int, wait_s: float) -> list[Message]:
        """Share max_messages among the lanes (what one leaves unused goes to the others).
        When all are empty, wait up to wait_s on every lane at once and return what the first
        to answer brings; the other waits go on, and what they bring comes with a later fetch
        (so a fetch may bring up to an earlier fetch's share more than max_messages)."""
        got = self._harvest()
        if got or max_messages <= 0:
            return got
        idle = [i for i in range(len(self._lanes)) if i not in self._waits]
        got = await self._fetch_shared(idle, max_messages)
        if got or wait_s <= 0:
            return got
        for index, share in (_shares(idle, max_messages) if idle else {}).items():
            self._waits[index] = asyncio.create_task(
                self._lanes[index].fetch(share, wait_s), name=f"lane-{index}-fetch"
            )
        await asyncio.wait(self._waits.values(), timeout=wait_s, return_when="FIRST_COMPLETED")
        return self._harvest()

    def _harvest(self) -> list[Message]:
        """What the lanes' finished waits brought (a failed wait raises here, once)."""
        got: list[Message] = []
        for index, task in list(self._waits.items()):
            if task.done():
                del self._waits[index]
                got += _tagged(index, task.result())
        return got

    async def _fetch_shared(self, lanes: list[int], max_messages: int) -> list[Message]:
        if not lanes:
            return []
        self._turn = (self._turn + 1) % len(lanes)
        order = lanes[self._turn :] + lanes[: self._turn]
        shares = _shares(order, max_messages)
        results = await self._fetch_lanes(shares)
        spare = max_messages - sum(len(r) for r in results.values())
        full = [i for i in order if shares[i] and len(results[i]) == shares[i]]
        if spare > 0 and full:
            for index, extra in (await self._fetch_lanes(_shares(full, spare))).items():
                results[index] += extra
        return [message for index in order for message in results[index]]

    async def _fetch_lanes(self, shares: dict[int, int]) -> dict[int, list[Message]]:
        wanted = [(index, n) for index, n in shares.items() if n > 0]
        fetched = await asyncio.gather(*(self._lanes[i].fetch(n, 0.0) for i, n in wanted))
        results: dict[int, list[Message]] = {index: [] for index in shares}
        for (index, _), messages in zip(wanted, fetched, strict=True):
            results[index] = _tagged(index, messages)
        return results

    async def ack(self, messages: Sequence[Message]) -> None:
        for index, lane_messages in self._by_lane(messages).items():
            await self._lanes[index].ack(lane_messages)

    async def extend(self, messages: Sequence[Message]) -> None:
        for index, lane_messages in self._by_lane(messages).items():
            await self._lanes[index].extend(lane_messages)

    async def release(self, messages: Sequence[Message], delay_s: float = 0.0) -> None:
        for index, lane_messages in self._by_lane(messages).items():
            await self._lanes[index].release(lane_messages, delay_s)

    async def backlog(self) -> int:
        return sum(await asyncio.gather(*(lane.backlog() for lane in self._lanes)))

    def _by_lane(self, messages: Sequence[Message]) -> dict[int, list[Message]]:
        """The messages by lane, each a copy with the id its lane gave it."""
        by_lane: dict[int, list[Message]] = {}
        for message in messages:
            index, _, lane_id = message.id.partition("/")
            by_lane.setdefault(int(index), []).append(replace(message, id=lane_id))
        return by_lane
