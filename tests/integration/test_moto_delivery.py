"""Publishing through moto's server: events reach the customer's bus, a rule and an SQS queue.

moto answers PutPartnerEvents with `{"Entries": [], "FailedEntryCount": 0}`: no result per
entry, which AWS never sends. The daemon cannot tell from it that an event was accepted, so
it does not count one as published: with one attempt, each event is delivered once and
dead-lettered as a malformed reply. That is the honest outcome against this stand-in.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto.server import ThreadedMotoServer

from publisher.commands.send import _send
from publisher.inputs.lines import LineFeed
from publisher.settings import Settings

CUSTOMER_ACCOUNT = "123456789012"  # moto's default account plays the customer
SOURCE = "aws.partner/example.com/acme/orders"


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def customer_queue(url: str) -> tuple[Any, str]:
    """The customer's side: a rule on the default bus matching the source, targeting SQS."""
    events = boto3.client("events", region_name="us-east-1", endpoint_url=url)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=url)
    events.create_partner_event_source(Name=SOURCE, Account=CUSTOMER_ACCOUNT)
    queue_url = sqs.create_queue(QueueName="partner-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(Name="from-partner", EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="from-partner", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return sqs, queue_url


def drain(sqs: Any, queue_url: str, expected: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    for _ in range(20):
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        received.extend(json.loads(m["Body"]) for m in reply.get("Messages", []))
        if len(received) >= expected:
            break
    return received


def test_events_sent_through_moto_reach_the_customers_queue_and_are_not_counted_as_published(
    moto_url: str, tmp_path: Path
) -> None:
    sqs, queue_url = customer_queue(moto_url)
    settings = Settings.model_validate(
        {
            "aws": {"region": "us-east-1", "endpoint_url": moto_url},
            "publish": {"linger_ms": 5},
            "retry": {"max_attempts": 1},
            "dead_letter": {"path": str(tmp_path / "dl.jsonl")},
            "tenants": {"acme": {"account": CUSTOMER_ACCOUNT, "source": SOURCE}},
        }
    )
    lines = [
        orjson.dumps(
            {
                "tenant": "acme",
                "detail_type": "OrderCreated",
                "detail": {"order_id": f"ord-{n}"},
                "resources": [f"order/{n}"],
                "time": "2026-11-22T05:00:00Z",
            }
        )
        + b"\n"
        for n in range(6)
    ]
    feed = tmp_path / "events.ndjson"
    feed.write_bytes(b"".join(lines))
    with open(feed, "rb") as handle:
        tally = asyncio.run(_send(settings, LineFeed(handle), progress_interval_s=0))
    assert (tally.published, tally.dead_lettered) == (0, 6)
    letters = [orjson.loads(line) for line in (tmp_path / "dl.jsonl").read_bytes().splitlines()]
    assert {(d["reason"], d["error_code"]) for d in letters} == {
        ("attempts_exhausted", "MalformedResponse")
    }
    assert all("0 results for" in d["error_message"] for d in letters)

    delivered = drain(sqs, queue_url, expected=6)
    assert sorted(m["detail"]["order_id"] for m in delivered) == [f"ord-{n}" for n in range(6)]
    for message in delivered:
        assert message["source"] == SOURCE
        assert message["detail-type"] == "OrderCreated"
        assert message["resources"] == [f"order/{message['detail']['order_id'][4:]}"]
        assert message["time"].startswith("2026-11-22T05:00:00")
