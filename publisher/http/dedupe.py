"""Ingest's idempotency: every accepted event gets an id, and a (tenant, id) the client gave
is stored at most once within ingest.dedupe_window_s (publisher.inputs.dedupe).

An event without an id gets a random UUID, written into its stored body and returned in the
202 answer; it is not deduplicated (a retry of it could not be told from a new event).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from publisher.core.event import Event
from publisher.core.ids import random_uuids
from publisher.http.ingest_body import Decoded
from publisher.inputs.base import Input
from publisher.inputs.dedupe import (
    DedupeLimits,
    KeyedBodies,
    PutsOnce,
    dedupe_key,
    split_repeats,
)
from publisher.inputs.dedupe_file import KeyFile, RememberingInput, put_validated_if_able
from publisher.settings import IngestSettings


@dataclass(frozen=True, slots=True)
class Stored:
    ids: list[str]
    """The id of every accepted event, in the order they were sent."""
    duplicates: int
    """How many of them were already stored within the window (counted as accepted)."""


def assign_ids(decoded: Decoded) -> list[bool]:
    """Give every accepted event without an id a UUID, in its event and its stored body;
    returns which events were given one.

    The events are this body's own (just decoded), so the id is set in place; the UUIDs'
    random bits are read from the OS once per body rather than once per event.
    """
    events, bodies = decoded.events, decoded.bodies
    # The usual body: no event carries an id (a valid id is never empty). A list
    # comprehension asks it with less work per event than a generator or map(attrgetter).
    if not any([event.id for event in events]):
        new_ids = random_uuids(len(events))
        for event, new_id in zip(events, new_ids, strict=True):
            event.id = new_id
        # _with_id's usual case inline, without a call per event.
        bodies[:] = [
            b"".join((body[:-1], b',"id":"', new_id.encode(), b'"}'))
            if body[-1:] == b"}" and body[-2:-1] not in _BEFORE_CLOSE_UNLESS_PLAIN
            else _with_id(body, new_id)
            for body, new_id in zip(bodies, new_ids, strict=True)
        ]
        return [True] * len(events)
    missing = [index for index, event in enumerate(events) if event.id is None]
    generated = [False] * len(events)
    for index, new_id in zip(missing, random_uuids(len(missing)), strict=True):
        events[index].id = new_id
        bodies[index] = _with_id(bodies[index], new_id)
        generated[index] = True
    return generated


def _with_id(body: bytes, event_id: str) -> bytes:
    """The event object's JSON with `"id"` added at the end (it has no id member, or a null
    one: decoding keeps the last of repeated members, so ours goes after the original).
    `event_id` is a UUID's text, which JSON holds as it is."""
    if body[-1:] == b"}" and body[-2:-1] not in _BEFORE_CLOSE_UNLESS_PLAIN:
        # The usual body: a member right before the closing brace, in one copy.
        return b"".join((body[:-1], b',"id":"', event_id.encode(), b'"}'))
    member = b',"id":"' + event_id.encode() + b'"}'
    inner = body.strip()[1:-1].strip()
    return b"{" + inner + member if inner else b"{" + member[1:]


# What comes before an object's closing brace that calls for the general case: an empty
# object, whitespace (inside or after the object) that the general case strips, or nothing.
_BEFORE_CLOSE_UNLESS_PLAIN = frozenset((b"{", b" ", b"\t", b"\n", b"\r", b""))


class IdempotentPuts:
    """Puts decoded events into the input, skipping (tenant, id)s stored within the window."""

    def __init__(self, sink: Input, settings: IngestSettings) -> None:
        self._sink = sink
        self._limits = DedupeLimits(settings.dedupe_window_s, settings.dedupe_max_ids)
        self._enabled = settings.dedupe_window_s > 0
        self._key_file: KeyFile | None = None
        self._once: PutsOnce | None = None
        if self._enabled:
            if isinstance(sink, PutsOnce):
                self._once = sink
            else:
                self._key_file = KeyFile(settings.dedupe_path)
                self._once = RememberingInput(sink, self._key_file)

    async def put(self, decoded: Decoded) -> Stored:
        generated = assign_ids(decoded)
        ids = [event.id or "" for event in decoded.events]
        if self._once is None:
            await put_validated_if_able(self._sink, decoded.bodies, decoded.events)
            return Stored(ids, 0)
        # Ids of our own making only (the usual body) leave nothing to look up or to skip.
        keys = [None] * len(generated) if all(generated) else _keys(decoded.events, generated)
        if not any(keys):
            batch = KeyedBodies(keys, decoded.bodies, decoded.events)
            return Stored(ids, sum(await self._once.put_once(batch, self._limits)))
        unique, repeats = split_repeats(keys)
        keep = [i for i, repeat in enumerate(repeats) if not repeat]
        bodies = [decoded.bodies[i] for i in keep]
        events = [decoded.events[i] for i in keep]
        batch = KeyedBodies([unique[i] for i in keep], bodies, events)
        flags = await self._once.put_once(batch, self._limits)
        return Stored(ids, sum(repeats) + sum(flags))

    def close(self) -> None:
        if self._key_file is not None:
            self._key_file.close()


def _keys(events: Sequence[Event], generated: Sequence[bool]) -> list[str | None]:
    return [
        None if fresh or event.id is None else dedupe_key(event.tenant, event.id)
        for event, fresh in zip(events, generated, strict=True)
    ]
