"""Choosing dead letters and putting them back into the input: `dlq` and the console share it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from publisher.deadletters.factory import build_dead_letter_store
from publisher.deadletters.store import DeadLetterStore, StoredDeadLetter
from publisher.engine.deadletter import replay_body
from publisher.inputs.base import Input
from publisher.inputs.factory import build_input
from publisher.settings import Settings

REPLAY_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters: each non-empty list must match; replayed ones only if asked."""

    reasons: Sequence[str] = field(default_factory=tuple)
    dead_letter_ids: Sequence[str] = field(default_factory=tuple)
    tenants: Sequence[str] = field(default_factory=tuple)
    include_replayed: bool = False

    @property
    def narrows(self) -> bool:
        return bool(self.reasons or self.dead_letter_ids or self.tenants)

    def matches(self, letter: StoredDeadLetter) -> bool:
        if letter.replayed and not self.include_replayed:
            return False
        if self.reasons and letter.record.get("reason") not in self.reasons:
            return False
        if self.dead_letter_ids and letter.dead_letter_id not in self.dead_letter_ids:
            return False
        return not (self.tenants and letter.tenant not in self.tenants)


async def read_selected(settings: Settings, selection: Selection) -> list[StoredDeadLetter]:
    """The matching dead letters, oldest first."""
    store = build_dead_letter_store(settings)
    await store.start()
    try:
        return [letter for letter in await store.records() if selection.matches(letter)]
    finally:
        await store.close()


async def replay(settings: Settings, selection: Selection) -> int:
    """Claim, then put back: of two operators replaying at once, each letter goes to one."""
    store = build_dead_letter_store(settings)
    await store.start()
    try:
        chosen = [letter for letter in await store.records() if selection.matches(letter)]
        if not chosen:
            return 0
        target = build_input(settings.input, consumer=False, aws=settings.aws)
        await target.start()
        try:
            replayed = 0
            for start in range(0, len(chosen), REPLAY_CHUNK):
                chunk = chosen[start : start + REPLAY_CHUNK]
                replayed += await _replay_chunk(store, target, chunk)
            return replayed
        finally:
            await target.close()
    finally:
        await store.close()


async def _replay_chunk(
    store: DeadLetterStore, target: Input, chunk: list[StoredDeadLetter]
) -> int:
    # Already replayed ones are here only with include_replayed: put back without a claim.
    again = [letter for letter in chunk if letter.replayed]
    fresh = [letter for letter in chunk if not letter.replayed]
    claimed = set(await store.claim([letter.dead_letter_id for letter in fresh]))
    taken = again + [letter for letter in fresh if letter.dead_letter_id in claimed]
    if not taken:
        return 0
    try:
        await target.put([replay_body(letter.record) for letter in taken])
    except BaseException:
        # Not put back: release the claims so a later replay takes them.
        await store.unclaim(list(claimed))
        raise
    return len(taken)
