"""entry.merged_rows: one row per key that, upserted once, leaves what upserting every row in
order leaves (the PostgreSQL ledger writes a batch in one statement that may not touch a key
twice)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.ledger.entry import DEAD_LETTERED, PENDING, PUBLISHED, LedgerRow, merged_rows

Stored = dict[tuple[str, str], LedgerRow]


def upsert(stored: Stored, row: LedgerRow) -> None:
    """The PostgreSQL ledger's ON CONFLICT rule: a settled row replaces any, a pending row
    only a pending one."""
    key = (row[0], row[1])
    held = stored.get(key)
    if held is None or row[2] != PENDING or held[2] == PENDING:
        stored[key] = row


def row(event_id: str, tenant: str, state: str, attempts: int) -> LedgerRow:
    return (event_id, tenant, state, 1.0, attempts, 2.0, None, None, None, None)


rows = st.lists(
    st.builds(
        row,
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["acme", "globex"]),
        st.sampled_from([PENDING, PUBLISHED, DEAD_LETTERED]),
        st.integers(1, 1000),  # tells rows of one key and state apart
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(before=rows, batch=rows)
def test_one_upsert_of_the_merged_rows_equals_upserting_every_row_in_order(
    before: list[LedgerRow], batch: list[LedgerRow]
) -> None:
    one_by_one: Stored = {}
    merged: Stored = {}
    for earlier in before:
        upsert(one_by_one, earlier)
        upsert(merged, earlier)
    for later in batch:
        upsert(one_by_one, later)
    once = merged_rows(batch)
    for later in once:
        upsert(merged, later)

    assert merged == one_by_one
    assert len({(r[0], r[1]) for r in once}) == len(once)  # no key twice in one statement


def test_the_last_settled_row_wins_and_a_later_pending_does_not_replace_it() -> None:
    batch = [
        row("a", "acme", PENDING, 1),
        row("a", "acme", PUBLISHED, 2),
        row("a", "acme", PENDING, 3),
        row("b", "acme", PENDING, 1),
        row("b", "acme", PENDING, 2),
    ]

    assert merged_rows(batch) == [row("a", "acme", PUBLISHED, 2), row("b", "acme", PENDING, 2)]
