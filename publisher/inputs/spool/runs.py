"""Acknowledged ids as runs of consecutive ids, for statements over a range of rows.

A PutPartnerEvents call settles entries that were fetched together, so the ids acked at once
are mostly consecutive. Deleting a run by its bounds seeks once and walks the rows in order;
an id list has SQLite decode it, sort it into a temporary index and seek every id.
"""

from __future__ import annotations

from collections.abc import Iterable

MIN_RUN = 8
"""Shorter runs go in the id list: a statement per run would cost more than it saves."""


def split_runs(ids: Iterable[int]) -> tuple[list[tuple[int, int]], list[int]]:
    """(first, last) of each run of at least MIN_RUN consecutive ids, and the other ids;
    repeated ids count once."""
    ordered = sorted(set(ids))
    if ordered and ordered[-1] - ordered[0] == len(ordered) - 1 >= MIN_RUN - 1:
        return [(ordered[0], ordered[-1])], []  # the usual ack: one run
    runs: list[tuple[int, int]] = []
    others: list[int] = []
    start = 0
    for index in range(1, len(ordered) + 1):
        if index == len(ordered) or ordered[index] != ordered[index - 1] + 1:
            if index - start >= MIN_RUN:
                runs.append((ordered[start], ordered[index - 1]))
            else:
                others.extend(ordered[start:index])
            start = index
    return runs, others
