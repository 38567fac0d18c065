"""The benchmark's event shape, as NDJSON lines, ingest bodies and PutPartnerEvents entries."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson

TENANT = "acme"
ACCOUNT = "111122223333"
SOURCE = "aws.partner/example.com/acme/orders"
DETAIL_TYPE = "OrderCreated"
REGION = "us-east-1"
# Filler that brings each NDJSON line to about 500 bytes, the event size the targets name.
NOTE = "Customer asked for gift wrapping and delivery after 18:00, please call. " * 4 + (
    "Leave it at the door."
)


def event(n: int) -> dict[str, object]:
    """Event number n as the application hands it to the publisher (about 500 bytes)."""
    return {
        "tenant": TENANT,
        "detail_type": DETAIL_TYPE,
        "detail": {
            "order_id": f"ord-{n:08d}",
            "amount": 12,
            "currency": "EUR",
            "customer": {"id": f"cus-{n % 9973:06d}", "tier": "gold", "country": "DE"},
            "note": NOTE,
            "n": n,
        },
    }


def ndjson(start: int, count: int) -> bytes:
    """Events start..start+count-1, one JSON object per line."""
    return b"".join(orjson.dumps(event(n)) + b"\n" for n in range(start, start + count))


def write_ndjson(path: str, count: int, chunk: int = 10_000) -> None:
    """An NDJSON file of `count` events, written a chunk at a time."""
    with open(path, "wb") as handle:
        for start in range(0, count, chunk):
            handle.write(ndjson(start, min(chunk, count - start)))


def timed_ndjson(start: int, count: int) -> bytes:
    """Like ndjson(), each detail carrying `sent_at`, the wall time of building it (now)."""
    sent_at = time.time()
    lines = []
    for n in range(start, start + count):
        item = event(n)
        detail = item["detail"]
        assert isinstance(detail, dict)
        detail["sent_at"] = sent_at
        lines.append(orjson.dumps(item) + b"\n")
    return b"".join(lines)


def entry(n: int) -> dict[str, object]:
    """Event n as a PutPartnerEvents entry: what any publisher must build (Detail encoded)."""
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": orjson.dumps(event(n)["detail"]).decode(),
    }


def batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, count) pairs covering 0..total-1 in slices of at most `size`."""
    for start in range(0, total, size):
        yield start, min(size, total - start)
