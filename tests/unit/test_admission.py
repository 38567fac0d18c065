"""Admission: each way a message becomes an entry, is held, or is refused with its reason."""

from __future__ import annotations

import uuid

import orjson
import pytest

from publisher.core.admission import Admission, Entry, PendingEntry, Refusal, Verdict
from publisher.core.decisions import RetryAfter
from publisher.core.event import decode_event, entry_size, request_entry
from publisher.core.message import Message, ValidatedMessage
from publisher.core.reasons import Reason
from publisher.core.source_states import DELETED, PENDING, SourceStates
from publisher.core.tenants import TenantRegistry
from publisher.settings import TenantSettings

SOURCE = "aws.partner/example.com/acme/orders"
NOW = 1_000_000.0


def admission(states: SourceStates | None = None, pending: str = "send") -> Admission:
    tenants = TenantRegistry(
        {"acme": TenantSettings(account="111122223333", source=SOURCE, region="eu-west-1")},
        "us-east-1",
    )
    return Admission(
        tenants,
        states or SourceStates(),
        max_request_bytes=1000,
        max_age_s=3600,
        pending=pending,  # type: ignore[arg-type]
        hold_s=300,
    )


def message(
    detail: object = None, tenant: str = "acme", age_s: float = 0.0, **extra: str
) -> Message:
    event = {"tenant": tenant, "detail_type": "OrderCreated", "detail": detail or {"n": 1}}
    return Message("1", orjson.dumps({**event, **extra}), NOW - age_s)


def refusal(verdict: Verdict) -> Refusal:
    assert isinstance(verdict, Refusal), verdict
    return verdict


def test_an_admitted_entry_carries_its_region_request_fields_aws_size_tenant_and_id() -> None:
    entry = admission().admit(message(id="evt-1"), NOW)
    assert type(entry) is Entry
    assert entry.region == "eu-west-1"
    assert entry.fields == {"Source": SOURCE, "DetailType": "OrderCreated", "Detail": '{"n":1}'}
    assert entry.size == len(SOURCE) + len("OrderCreated") + len('{"n":1}')
    assert (entry.tenant, entry.event_id, entry.attempts) == ("acme", "evt-1", 0)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"detail_type": "BestellungÄnderung"},
        {"resources": ["arn:aws:s3:::bücher", "r2"]},
        {"time": "2026-11-22T05:00:00Z"},
        {"resources": ["r"], "time": "2026-11-22T05:00:00Z", "detail_type": "Zeit·Plan"},
    ],
)
def test_every_entry_is_sized_and_built_as_entry_size_and_request_entry_say(
    extra: dict[str, object],
) -> None:
    gate = admission()
    body = orjson.dumps(
        {"tenant": "acme", "detail_type": "OrderCreated", "detail": {"n": "ü"}, **extra}
    )
    event = decode_event(body)
    entry = gate.admit(ValidatedMessage("1", body, NOW, event=event), NOW)
    assert isinstance(entry, Entry)
    assert entry.size == entry_size(SOURCE, event)
    assert entry.fields == request_entry(SOURCE, event)
    assert list(entry.fields) == list(request_entry(SOURCE, event))


def test_an_event_without_an_id_gets_a_fresh_random_uuid_per_admission() -> None:
    gate = admission()
    first, second = gate.admit(message(), NOW), gate.admit(message(), NOW)
    assert isinstance(first, Entry)
    assert isinstance(second, Entry)
    assert first.event_id is not None
    assert first.event_id != second.event_id
    assert uuid.UUID(first.event_id).version == 4
    assert uuid.UUID(first.event_id).hex == first.event_id


def test_an_entry_of_exactly_max_request_bytes_is_refused_one_byte_less_admitted() -> None:
    base = len(SOURCE) + len("OrderCreated") + len('{"p":""}')
    fits = admission().admit(message(detail={"p": "x" * (999 - base)}), NOW)
    assert isinstance(fits, Entry)
    assert fits.size == 999
    refused = refusal(admission().admit(message(detail={"p": "x" * (1000 - base)}), NOW))
    assert refused.reason == "too_large"
    assert "1000 bytes, not under max_request_bytes 1000" in refused.error


def test_an_event_validated_on_acceptance_is_not_decoded_again_nor_changed() -> None:
    event = decode_event(message(detail={"n": 2}).body)  # what ingest validated
    handed = ValidatedMessage("1", b"not json: never decoded", NOW, event=event)
    entry = admission().admit(handed, NOW)
    assert isinstance(entry, Entry)
    assert entry.fields["Detail"] == '{"n":2}'
    assert handed.event is event  # admission changes nothing


@pytest.mark.parametrize(
    ("incoming", "reason", "tenant"),
    [
        (Message("1", b"not json", NOW), Reason.INVALID_JSON, None),
        (message(tenant="globex"), Reason.UNKNOWN_TENANT, "globex"),
        (Message("1", b'{"tenant": "acme", "detail_type": "T"}', NOW), Reason.INVALID_EVENT, None),
        (message(detail={"pad": "x" * 1000}), Reason.TOO_LARGE, "acme"),
        (message(age_s=3601), Reason.TOO_OLD, "acme"),
    ],
)
def test_what_can_never_be_sent_is_refused_with_its_reason(
    incoming: Message, reason: Reason, tenant: str | None
) -> None:
    refused = refusal(admission().admit(incoming, NOW))
    assert (refused.message, refused.reason, refused.tenant) == (incoming, reason, tenant)
    assert refused.error


def test_a_refusal_says_why_in_the_words_of_the_rule() -> None:
    refused = refusal(admission().admit(message(detail={"pad": "x" * 1000}, id="e-9"), NOW))
    assert refused.error.startswith("event: entry is ")
    assert refused.error.endswith(" bytes, not under max_request_bytes 1000")
    assert refused.event_id == "e-9"


def test_a_gone_source_refuses_and_a_pending_one_follows_the_policy() -> None:
    states = SourceStates()
    states.set(SOURCE, DELETED)
    assert refusal(admission(states).admit(message(), NOW)).reason == Reason.SOURCE_DELETED

    states.set(SOURCE, PENDING)
    assert admission(states, pending="hold").admit(message(), NOW) == RetryAfter(300)
    refused = refusal(admission(states, pending="dead_letter").admit(message(), NOW))
    assert refused.reason == Reason.SOURCE_PENDING
    assert type(admission(states, pending="send").admit(message(), NOW)) is PendingEntry
