"""Tenant routing: each event reaches only its own tenant's partner event source."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from publisher.core.event import Event, decode_event
from publisher.core.tenants import Route, TenantRegistry, UnknownTenant
from publisher.errors import InvalidEvent
from publisher.settings import TenantSettings

ACME = "aws.partner/example.com/acme/orders"
GLOBEX = "aws.partner/example.com/globex/orders"
TENANTS = {
    "acme": TenantSettings(account="111122223333", source=ACME),
    "globex": TenantSettings(account="444455556666", source=GLOBEX, region="eu-west-1"),
}


def event(tenant: str, **fields: Any) -> Event:
    return decode_event(
        orjson.dumps({"tenant": tenant, "detail_type": "T", "detail": {}, **fields})
    )


def registry() -> TenantRegistry:
    return TenantRegistry(TENANTS, default_region="us-east-2")


def test_route_uses_the_default_region_when_the_tenant_has_none() -> None:
    assert registry().route(event("acme")) == Route("acme", ACME, "111122223333", "us-east-2")


def test_route_uses_the_tenant_region() -> None:
    assert registry().route(event("globex")) == Route("globex", GLOBEX, "444455556666", "eu-west-1")


def test_event_naming_its_own_source_is_routed() -> None:
    assert registry().route(event("acme", source=ACME)).source == ACME


def test_unknown_tenant_is_refused() -> None:
    with pytest.raises(UnknownTenant) as caught:
        registry().route(event("initech"))
    assert caught.value.field == "tenant"
    assert "initech" in caught.value.rule
    assert isinstance(caught.value, InvalidEvent)


def test_tenant_names_are_case_sensitive() -> None:
    with pytest.raises(UnknownTenant):
        registry().route(event("ACME"))


def test_foreign_source_is_rejected() -> None:
    with pytest.raises(InvalidEvent) as caught:
        registry().route(event("acme", source=GLOBEX))
    assert type(caught.value) is InvalidEvent
    assert caught.value.field == "source"
    assert "acme" in caught.value.rule


def test_registry_lists_its_routes() -> None:
    reg = registry()
    assert len(reg) == 2
    assert {r.tenant: r.region for r in reg} == {"acme": "us-east-2", "globex": "eu-west-1"}


def test_empty_registry_refuses_everyone() -> None:
    reg = TenantRegistry({}, "us-east-1")
    assert len(reg) == 0
    with pytest.raises(UnknownTenant):
        reg.route(event("acme"))


def test_replace_swaps_the_tenants_keeping_the_default_region() -> None:
    reg = registry()
    reg.replace({"initech": TenantSettings(account="777788889999", source=ACME + "2")})
    assert reg.route(event("initech")) == Route("initech", ACME + "2", "777788889999", "us-east-2")
    with pytest.raises(UnknownTenant):
        reg.route(event("acme"))
