"""Walk the chain source -> partner bus -> event integration -> association -> Profiles.

Each link is one Check: PASS, FAIL (with the command that fixes it) or SKIP (a link it
depends on failed, so it cannot be looked at yet). Every fix carries the options the check
was run with (`--endpoint-url`, `--config`, `--profile`, `--region`), so pasting it acts on
the same account, Region and endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from publisher.connect import bus as buses
from publisher.connect import event_integrations, profiles
from publisher.connect.calls import Clients, ConnectError

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
CLI = "partner-publisher connect"


@dataclass(frozen=True, slots=True)
class Check:
    link: str
    result: str
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"link": self.link, "result": self.result, "detail": self.detail, "fix": self.fix}


@dataclass(slots=True)
class ChainQuery:
    source: str
    domain: str | None = None
    account: str | None = None
    fix_options: str = ""  # e.g. " --endpoint-url http://127.0.0.1:4010", appended to fixes


async def verify_chain(clients: Clients, query: ChainQuery) -> list[Check]:
    """Every link of the chain, in order, each fix with the query's options."""
    checks = await _links(clients, query)
    return [
        check if check.fix is None else replace(check, fix=check.fix + query.fix_options)
        for check in checks
    ]


async def _links(clients: Clients, query: ChainQuery) -> list[Check]:
    checks = [await _source(clients, query), await _bus(clients, query)]
    integration = await _find_integration(clients, query.source)
    checks.append(_integration_check(query, integration))
    arn = str(integration["EventIntegrationArn"]) if integration else None
    checks.append(await _association(clients, query, integration))
    if query.domain is not None:
        checks.extend(await _profiles(clients, query.domain, arn))
    return checks


def _attach_fix(domain: str | None, arn: str) -> str:
    return (
        f"{CLI} profiles attach --domain {domain or '<DOMAIN>'} --event-integration {arn} "
        "--object-type-names SegmentIdentify=<OBJECT_TYPE>"
    )


async def _source(clients: Clients, query: ChainQuery) -> Check:
    link = f"partner event source {query.source} is ACTIVE"
    described = await buses.describe_source(await clients.events(), query.source)
    if described is None or described.get("State") == "DELETED":
        account = query.account or "<ACCOUNT>"
        state = "missing" if described is None else "DELETED"
        return Check(
            link, FAIL,
            f"source is {state} (the partner creates it for your account: the partner runs the "
            "fix, with the partner's credentials)",
            f"partner-publisher sources create --name {query.source} --account {account}",
        )  # fmt: skip
    state = str(described.get("State"))
    if state != "ACTIVE":
        return Check(link, FAIL, f"state {state}", f"{CLI} bus --source {query.source}")
    return Check(link, PASS, "state ACTIVE")


async def _bus(clients: Clients, query: ChainQuery) -> Check:
    link = f"partner event bus {query.source} exists"
    found = await buses.describe_bus(await clients.events(), query.source)
    if found is None:
        return Check(link, FAIL, "no such event bus", f"{CLI} bus --source {query.source}")
    arn = str(found.get("Arn", ""))
    if query.account is not None and f":{query.account}:" not in arn:
        return Check(link, FAIL, f"{arn} is not in account {query.account}", None)
    return Check(link, PASS, arn)


async def _find_integration(clients: Clients, source: str) -> dict[str, Any] | None:
    found = await event_integrations.list_all(await clients.appintegrations())
    return event_integrations.find_for_source(found, source, source)


def _integration_check(query: ChainQuery, integration: dict[str, Any] | None) -> Check:
    link = f"event integration with source {query.source} on bus {query.source}"
    if integration is None:
        name = event_integrations.default_name(query.source)
        fix = f"{CLI} event-integration create --name {name} --source {query.source}"
        return Check(link, FAIL, "none found", fix)
    return Check(link, PASS, f"{integration['Name']} ({integration['EventIntegrationArn']})")


async def _association(
    clients: Clients, query: ChainQuery, integration: dict[str, Any] | None
) -> Check:
    link = "the event integration has an association"
    if integration is None:
        return Check(link, SKIP, "needs the event integration")
    caller = await clients.appintegrations()
    found = await event_integrations.associations(caller, str(integration["Name"]))
    if not found:
        fix = _attach_fix(query.domain, str(integration["EventIntegrationArn"]))
        if query.domain is not None and not await profiles.domain_exists(
            await clients.profiles(), query.domain
        ):
            # Attaching needs the domain: create it first (then attach, which verify prints).
            fix = f"{CLI} domain create --domain {query.domain}"
        return Check(link, FAIL, "no association: nothing consumes its events", fix)
    clients_text = ", ".join(sorted({str(a.get("ClientId")) for a in found}))
    return Check(link, PASS, f"{len(found)} association(s): {clients_text}")


async def _profiles(clients: Clients, domain: str, arn: str | None) -> list[Check]:
    link = f"Customer Profiles domain {domain} has an integration with Uri = the event integration"
    types_link = "the Customer Profiles integration sets object type names"
    if arn is None:
        reason = "needs the event integration"
        return [Check(link, SKIP, reason), Check(types_link, SKIP, reason)]
    caller = await clients.profiles()
    try:
        found = await profiles.get(caller, domain, arn)
    except ConnectError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
        if not await profiles.domain_exists(caller, domain):
            fix = f"{CLI} domain create --domain {domain}"
            return [
                Check(link, FAIL, f"the domain {domain} does not exist", fix),
                Check(types_link, SKIP, "needs the domain and the integration"),
            ]
        return [
            Check(link, FAIL, exc.message, _attach_fix(domain, arn)),
            Check(types_link, SKIP, "needs the integration"),
        ]
    names = found.get("ObjectTypeNames") or {}
    if not names and not found.get("ObjectTypeName"):
        return [
            Check(link, PASS, arn),
            Check(types_link, FAIL, "no ObjectTypeNames", _attach_fix(domain, arn)),
        ]
    shown = ", ".join(f"{k}={v}" for k, v in names.items()) or str(found.get("ObjectTypeName"))
    return [Check(link, PASS, arn), Check(types_link, PASS, shown)]
