"""`partner-publisher connect ...`: the customer's side of the chain, idempotent, scriptable.

Run with the customer's AWS credentials. Every command checks its input locally first
(exit 2), is safe to re-run (an existing equal resource is reported as "exists"), and
exits 1 with AWS's error and a hint when a call fails.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from publisher.commands import connect_output as out
from publisher.commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_actions,
    add_aws_target_options,
    add_config_option,
)
from publisher.commands.output import add_output_option, emit_record, emit_rows
from publisher.connect import bus, event_integrations, profiles, validation, workflows
from publisher.connect.calls import AwsTarget, Clients, ConnectError, open_clients
from publisher.connect.verify import FAIL, ChainQuery, verify_chain
from publisher.errors import ConfigError
from publisher.settings import load_settings

if TYPE_CHECKING:
    from publisher.commands.common import Subparsers

Action = Callable[[Clients, argparse.Namespace], Awaitable[int]]
Prepare = Callable[[argparse.Namespace], None]


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "connect", help="customer side: partner bus, event integration, Customer Profiles, verify"
    )
    groups = parser.add_subparsers(dest="connect_command", metavar="STEP", required=True)
    bus_parser = _leaf(
        groups, "bus", "create the partner event bus that activates a source", _bus, _prepare_source
    )
    bus_parser.add_argument("--source", required=True, help="the partner event source name")
    _register_event_integration(groups)
    _register_profiles(groups)
    _register_workflow(groups)
    _register_domain(groups)
    verify = _leaf(
        groups, "verify", "check every link of the chain, with fixes", _verify, _prepare_verify
    )
    verify.add_argument("--source", required=True)
    verify.add_argument("--domain", help="the Customer Profiles domain that should receive it")
    verify.add_argument("--account", help="the customer's 12-digit account id")


def _register_event_integration(groups: Any) -> None:
    parser = groups.add_parser(
        "event-integration", help="Amazon AppIntegrations event integrations"
    )
    actions = parser.add_subparsers(dest="ei_command", metavar="ACTION", required=True)
    create = _leaf(actions, "create", "create one (idempotent)", _ei_create, _prepare_ei_create)
    create.add_argument("--name", required=True)
    create.add_argument("--source", required=True, help="the partner event source name")
    create.add_argument(
        "--bus", help="EventBridge bus (default: the partner bus, named as --source)"
    )
    create.add_argument("--description")
    create.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    for name, help_text, action in (
        ("get", "show one", _ei_get),
        ("associations", "list who consumes it", _ei_associations),
        ("delete", "delete it (refused while it has associations)", _ei_delete),
    ):
        _leaf(actions, name, help_text, action, _prepare_name).add_argument("--name", required=True)
    _leaf(actions, "list", "list every event integration", _ei_list)


def _register_profiles(groups: Any) -> None:
    actions = add_actions(groups, "profiles", "Amazon Connect Customer Profiles integrations")
    attach = _leaf(actions, "attach", "PutIntegration: feed an event integration into a domain",
                   _profiles_attach, _prepare_attach)  # fmt: skip
    attach.add_argument("--domain", required=True)
    attach.add_argument("--event-integration", required=True, metavar="ARN")
    attach.add_argument("--object-type-names", nargs="+", default=[], metavar="KEY=TYPE")
    attach.add_argument("--object-type-name", metavar="TYPE")
    attach.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    get = _leaf(actions, "get", "GetIntegration: show every field", _profiles_get, _prepare_get)
    get.add_argument("--domain", required=True)
    get.add_argument("--uri", required=True, help="the integration's Uri (event integration ARN)")


def _register_domain(groups: Any) -> None:
    actions = add_actions(groups, "domain", "Amazon Connect Customer Profiles domains")
    create = _leaf(actions, "create", "CreateDomain unless it exists", _domain_create,
                   _prepare_domain)  # fmt: skip
    create.add_argument("--domain", required=True)
    create.add_argument(
        "--expiration-days", type=int, default=profiles.DEFAULT_EXPIRATION_DAYS,
        help="how long profile data is kept (DefaultExpirationDays, 1..1098)",
    )  # fmt: skip


def _register_workflow(groups: Any) -> None:
    actions = add_actions(groups, "workflow", "Customer Profiles integration workflows (AppFlow)")
    create = _leaf(actions, "create", "CreateIntegrationWorkflow from a flow definition file",
                   _workflow_create, _prepare_workflow)  # fmt: skip
    create.add_argument("--domain", required=True)
    create.add_argument("--object-type", required=True)
    create.add_argument("--role-arn", required=True)
    create.add_argument("--flow", required=True, type=Path, metavar="FILE.json")
    status = _leaf(actions, "status", "show a workflow; --watch until it ends",
                   _workflow_status, _prepare_status)  # fmt: skip
    status.add_argument("--domain", required=True)
    status.add_argument("--id", required=True, dest="workflow_id")
    status.add_argument("--watch", action="store_true", help="poll until COMPLETE/FAILED")
    status.add_argument("--interval", type=float, default=5.0, metavar="SECONDS")


def _leaf(
    actions: Any, name: str, help_text: str, action: Action, prepare: Prepare | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    add_config_option(parser)
    add_aws_target_options(parser)
    add_output_option(parser)
    parser.set_defaults(func=run, connect_action=action, connect_prepare=prepare)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        if args.connect_prepare is not None:
            args.connect_prepare(args)
        settings = load_settings(args.config)
    except (ValueError, ConfigError) as exc:
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return EXIT_USAGE
    target = AwsTarget(
        region=args.region or settings.aws.region,
        profile=args.profile or settings.aws.profile,
        endpoint_url=args.endpoint_url or settings.aws.endpoint_url,
    )
    try:
        return asyncio.run(_with_clients(target, args))
    except ConnectError as exc:
        print(out.explain(exc), file=sys.stderr)
        return EXIT_FAILED
    except ConfigError as exc:  # e.g. no credentials: the user's setup, not AWS
        print(f"partner-publisher: {exc}", file=sys.stderr)
        return EXIT_USAGE


async def _with_clients(target: AwsTarget, args: argparse.Namespace) -> int:
    async with open_clients(target) as clients:
        result: int = await args.connect_action(clients, args)
        return result


def _prepare_ei_create(args: argparse.Namespace) -> None:
    args.spec = event_integrations.EventIntegrationSpec(
        name=args.name,
        source=args.source,
        bus=args.bus or args.source,
        description=args.description,
        tags=validation.parse_pairs(args.tag, "--tag"),
    )
    args.spec.validate()


def _prepare_source(args: argparse.Namespace) -> None:
    validation.check_source(args.source)


def _prepare_verify(args: argparse.Namespace) -> None:
    validation.check_source(args.source)
    if args.domain is not None:
        validation.check_domain(args.domain)
    if args.account is not None:
        validation.check_account(args.account)


def _prepare_name(args: argparse.Namespace) -> None:
    validation.check_name(args.name, "event integration name")


def _prepare_attach(args: argparse.Namespace) -> None:
    args.spec = profiles.AttachSpec(
        domain=args.domain,
        uri=args.event_integration,
        object_type_names=validation.parse_pairs(args.object_type_names, "--object-type-names"),
        object_type_name=args.object_type_name,
        tags=validation.parse_pairs(args.tag, "--tag"),
    )
    args.spec.validate()


def _prepare_get(args: argparse.Namespace) -> None:
    validation.check_domain(args.domain)
    validation.check_uri(args.uri)


def _prepare_workflow(args: argparse.Namespace) -> None:
    try:
        flow = orjson.loads(args.flow.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read --flow {args.flow}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"--flow {args.flow} is not valid JSON: {exc}") from None
    args.spec = workflows.WorkflowSpec(args.domain, args.object_type, args.role_arn, flow)
    args.spec.validate()


def _prepare_status(args: argparse.Namespace) -> None:
    validation.check_domain(args.domain)
    validation.check_workflow_id(args.workflow_id)
    if args.interval <= 0:
        raise ValueError("--interval must be positive")


async def _bus(clients: Clients, args: argparse.Namespace) -> int:
    result = await bus.ensure_partner_bus(await clients.events(), args.source)
    emit_rows(args.output, [{"name": result.name, "arn": result.arn, "status": result.status}])
    return EXIT_OK


async def _ei_create(clients: Clients, args: argparse.Namespace) -> int:
    result = await event_integrations.create(await clients.appintegrations(), args.spec)
    row = {"name": args.spec.name, "arn": result.arn, "status": result.status}
    emit_rows(args.output, [row])
    return EXIT_OK


async def _ei_get(clients: Clients, args: argparse.Namespace) -> int:
    found = await event_integrations.get(await clients.appintegrations(), args.name)
    emit_record(args.output, found)
    return EXIT_OK


async def _ei_list(clients: Clients, args: argparse.Namespace) -> int:
    found = await event_integrations.list_all(await clients.appintegrations())
    rows = [_ei_row(item) for item in found]
    emit_rows(args.output, rows, empty="no event integrations")
    return EXIT_OK


def _ei_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item.get("Name"),
        "source": item.get("EventFilter", {}).get("Source"),
        "bus": item.get("EventBridgeBus"),
        "arn": item.get("EventIntegrationArn"),
    }


async def _ei_associations(clients: Clients, args: argparse.Namespace) -> int:
    found = await event_integrations.associations(await clients.appintegrations(), args.name)
    rows = [
        {
            "client_id": a.get("ClientId"),
            "rule": a.get("EventBridgeRuleName"),
            "id": a.get("EventIntegrationAssociationId"),
            "arn": a.get("EventIntegrationAssociationArn"),
        }
        for a in found
    ]
    emit_rows(args.output, rows, empty=f"{args.name} has no associations")
    return EXIT_OK


async def _ei_delete(clients: Clients, args: argparse.Namespace) -> int:
    status = await event_integrations.delete(await clients.appintegrations(), args.name)
    emit_rows(args.output, [{"name": args.name, "status": status}])
    return EXIT_OK


async def _profiles_attach(clients: Clients, args: argparse.Namespace) -> int:
    found, status = await profiles.attach(await clients.profiles(), args.spec)
    emit_rows(args.output, [{"domain": args.domain, "uri": found.get("Uri"), "status": status,
                                 "object_type_names": found.get("ObjectTypeNames")}])  # fmt: skip
    return EXIT_OK


async def _profiles_get(clients: Clients, args: argparse.Namespace) -> int:
    found = await profiles.get(await clients.profiles(), args.domain, args.uri)
    emit_record(args.output, found, profiles.GET_INTEGRATION_FIELDS)
    return EXIT_OK


async def _workflow_create(clients: Clients, args: argparse.Namespace) -> int:
    workflow_id, status = await workflows.create(await clients.profiles(), args.spec)
    emit_rows(args.output, [{"domain": args.domain, "workflow_id": workflow_id,
                                 "status": status}])  # fmt: skip
    return EXIT_OK


def _show_progress(current: workflows.WorkflowProgress) -> None:
    print(
        f"workflow {current.workflow_id}: {current.status}, steps "
        f"{current.steps_completed}/{current.total_steps}, {current.records_processed} records",
        file=sys.stderr,
        flush=True,
    )


async def _workflow_status(clients: Clients, args: argparse.Namespace) -> int:
    caller = await clients.profiles()
    if args.watch:
        final = await workflows.watch(
            caller, args.domain, args.workflow_id, args.interval, _show_progress
        )
    else:
        final = await workflows.progress(caller, args.domain, args.workflow_id)
    record = {"workflow_id": final.workflow_id, "status": final.status,
              "steps_completed": final.steps_completed, "total_steps": final.total_steps,
              "records_processed": final.records_processed, "error": final.error}  # fmt: skip
    emit_record(args.output, record)
    return EXIT_FAILED if final.status in ("FAILED", "CANCELLED") else EXIT_OK


def _prepare_domain(args: argparse.Namespace) -> None:
    validation.check_domain(args.domain)
    if not 1 <= args.expiration_days <= 1098:
        raise ValueError("--expiration-days must be from 1 to 1098 (AWS's range)")


async def _domain_create(clients: Clients, args: argparse.Namespace) -> int:
    status = await profiles.ensure_domain(await clients.profiles(), args.domain,
                                          args.expiration_days)  # fmt: skip
    emit_rows(args.output, [{"domain": args.domain, "status": status}])
    return EXIT_OK


def fix_options(args: argparse.Namespace) -> str:
    """The target options given to `verify`, as they must follow each printed fix."""
    given = [
        (flag, getattr(args, dest))
        for flag, dest in (("--endpoint-url", "endpoint_url"), ("--config", "config"),
                           ("--profile", "profile"), ("--region", "region"))
        if getattr(args, dest)
    ]  # fmt: skip
    return "".join(f" {flag} {shlex.quote(str(value))}" for flag, value in given)


async def _verify(clients: Clients, args: argparse.Namespace) -> int:
    query = ChainQuery(args.source, args.domain, args.account, fix_options(args))
    checks = await verify_chain(clients, query)
    out.emit_checks(args.output, checks)
    return EXIT_FAILED if any(c.result == FAIL for c in checks) else EXIT_OK
