"""Admission: each way a message becomes an entry, is held, or is refused with its reason."""

from __future__ import annotations

import orjson
import pytest

from publisher.core.admission import Admission, Hold, Refused, rejection
from publisher.core.event import decode_event
from publisher.core.source_states import DELETED, PENDING, SourceStates
from publisher.core.tenants import TenantRegistry
from publisher.errors import InvalidEvent
from publisher.inputs.base import Message
from publisher.observe.metrics import Metrics
from publisher.settings import SourcesSettings, TenantSettings

SOURCE = "aws.partner/example.com/acme/orders"
NOW = 1_000_000.0


def admission(
    states: SourceStates | None = None, pending: str = "send", metrics: Metrics | None = None
) -> Admission:
    router = TenantRegistry(
        {"acme": TenantSettings(account="111122223333", source=SOURCE, region="eu-west-1")},
        "us-east-1",
    )
    return Admission(
        router,
        states or SourceStates(),
        SourcesSettings(pending=pending),  # type: ignore[arg-type]
        max_request_bytes=1000,
        max_age_s=3600,
        metrics=metrics or Metrics(),
    )


def message(detail: object = None, tenant: str = "acme", age_s: float = 0.0) -> Message:
    event = {"tenant": tenant, "detail_type": "OrderCreated", "detail": detail or {"n": 1}}
    return Message("1", orjson.dumps(event), NOW - age_s)


def reason_of(exc: InvalidEvent) -> str:
    return rejection(message(), exc).reason


def test_an_admitted_entry_carries_its_region_request_fields_and_aws_size() -> None:
    entry = admission().entry_for(message(), NOW)
    assert entry.region == "eu-west-1"
    assert entry.fields == {"Source": SOURCE, "DetailType": "OrderCreated", "Detail": '{"n":1}'}
    assert entry.size == len(SOURCE) + len("OrderCreated") + len('{"n":1}')
    assert entry.attempts == 0


def test_an_entry_of_exactly_max_request_bytes_is_refused_one_byte_less_admitted() -> None:
    base = len(SOURCE) + len("OrderCreated") + len('{"p":""}')
    fits = admission().entry_for(message(detail={"p": "x" * (999 - base)}), NOW)
    assert fits.size == 999
    with pytest.raises(InvalidEvent) as refused:
        admission().entry_for(message(detail={"p": "x" * (1000 - base)}), NOW)
    assert reason_of(refused.value) == "too_large"
    assert "1000 bytes, not under max_request_bytes 1000" in str(refused.value)


def test_an_event_validated_on_acceptance_is_used_once_and_not_kept() -> None:
    handed = message()
    handed.event = decode_event(message(detail={"n": 2}).body)  # what ingest validated
    entry = admission().entry_for(handed, NOW)
    assert entry.fields["Detail"] == '{"n":2}'
    assert handed.event is None


@pytest.mark.parametrize(
    ("incoming", "reason"),
    [
        (Message("1", b"not json", NOW), "invalid_json"),
        (message(tenant="globex"), "unknown_tenant"),
        (Message("1", b'{"tenant": "acme", "detail_type": "T"}', NOW), "invalid_event"),
        (message(detail={"pad": "x" * 1000}), "too_large"),
        (message(age_s=3601), "too_old"),
    ],
)
def test_what_can_never_be_sent_is_refused_with_its_reason(incoming: Message, reason: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        admission().entry_for(incoming, NOW)
    assert reason_of(refused.value) == reason


def test_a_gone_source_refuses_and_a_pending_one_follows_the_policy() -> None:
    states = SourceStates()
    states.set(SOURCE, DELETED)
    with pytest.raises(Refused) as gone:
        admission(states).entry_for(message(), NOW)
    assert reason_of(gone.value) == "source_deleted"

    states.set(SOURCE, PENDING)
    with pytest.raises(Hold):
        admission(states, pending="hold").entry_for(message(), NOW)
    with pytest.raises(Refused) as refused:
        admission(states, pending="dead_letter").entry_for(message(), NOW)
    assert reason_of(refused.value) == "source_pending"
    metrics = Metrics()
    assert admission(states, pending="send", metrics=metrics).entry_for(message(), NOW)
    assert metrics.registry.get_sample_value("publisher_events_sent_to_pending_total") == 1
