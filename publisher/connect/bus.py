"""The customer's partner event bus: the association that turns a partner source ACTIVE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from publisher.connect.calls import Caller, ConnectError


@dataclass(frozen=True, slots=True)
class BusResult:
    """The partner bus and whether this call created it."""

    name: str
    arn: str
    status: str


async def ensure_partner_bus(events: Caller, source: str) -> BusResult:
    """CreateEventBus(Name=source, EventSourceName=source); an existing bus is fine."""
    try:
        reply = await events("create_event_bus", Name=source, EventSourceName=source)
    except ConnectError as exc:
        if exc.code != "ResourceAlreadyExistsException":
            raise
        existing = await describe_bus(events, source)
        if existing is None:  # it vanished between the two calls
            raise
        return BusResult(source, str(existing.get("Arn", "")), "exists")
    return BusResult(source, str(reply["EventBusArn"]), "created")


async def describe_bus(events: Caller, name: str) -> dict[str, Any] | None:
    """DescribeEventBus, or None when there is no such bus."""
    try:
        return await events("describe_event_bus", Name=name)
    except ConnectError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise


async def describe_source(events: Caller, source: str) -> dict[str, Any] | None:
    """The customer's view of a partner source (with State), or None when there is none."""
    try:
        return await events("describe_event_source", Name=source)
    except ConnectError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise
