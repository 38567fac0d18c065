"""Publish events and CloudEvents to a running partner-publisher daemon with its client.

    python examples/publish_events.py [http://127.0.0.1:8088] [token]

Prints one JSON line: how many were accepted, how many were duplicates (run it twice: the
second run's events are all duplicates, as their ids are fixed), and the rejections.
"""

from __future__ import annotations

import json
import sys

from publisher.client import Client


def main() -> None:
    base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8088"
    token = sys.argv[2] if len(sys.argv) > 2 else None
    events = [
        # An event as the daemon takes it; its id is the idempotency key within the tenant.
        {
            "tenant": "acme",
            "detail_type": "OrderCreated",
            "detail": {"order_id": "ord-1001", "total": 129.5},
            "resources": ["order/ord-1001"],
            "id": "ord-1001-created",
        },
        # A CloudEvent: the extension attribute `tenant` names the tenant.
        {
            "specversion": "1.0",
            "id": "ord-1001-shipped",
            "source": "/shop/orders",
            "type": "OrderShipped",
            "tenant": "acme",
            "subject": "order/ord-1001",
            "time": "2026-11-22T05:00:00Z",
            "data": {"order_id": "ord-1001", "carrier": "ups"},
        },
        # Refused by the daemon: no such tenant. The others are still published.
        {"tenant": "nobody", "detail_type": "OrderCreated", "detail": {}, "id": "x-1"},
    ]
    with Client(base_url, token=token, timeout=10) as client:
        result = client.publish(events)
    print(
        json.dumps(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": [
                    {"index": r.index, "id": r.id, "error": r.error} for r in result.rejected
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
