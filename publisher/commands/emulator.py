"""`partner-publisher emulator`: serve the local strict EventBridge emulator until a signal."""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
from dataclasses import fields

import structlog

from publisher.emulator.accounts import (
    CUSTOMER_ACCESS_KEY,
    CUSTOMER_ACCOUNT,
    PARTNER_ACCESS_KEY,
    PARTNER_ACCOUNT,
    default_accounts,
    parse_account,
)
from publisher.emulator.faults import FaultConfig
from publisher.emulator.options import EmulatorOptions
from publisher.emulator.server import running_emulator

log = structlog.get_logger(__name__)


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"rate must be between 0 and 1, got {text}")
    return value


def _entry_fault(text: str) -> tuple[str, float]:
    code, sep, rate = text.partition("=")
    if not sep or not code:
        raise argparse.ArgumentTypeError(f"expected CODE=RATE, got {text!r}")
    return code, _rate(rate)


def _account(text: str) -> tuple[str, str]:
    try:
        return parse_account(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `emulator` subcommand."""
    p = subparsers.add_parser("emulator", help="run the local strict EventBridge emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4010, help="0 picks a free port")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--access-key-id", help="accept only this access key")
    p.add_argument("--secret-access-key", help="verify SigV4 signatures with this secret")
    p.add_argument("--max-request-bytes", type=int, default=1_048_576)
    p.add_argument(
        "--accept-unknown-sources", action="store_true",
        help="deliver events for sources never created (AWS fails them; for tests only)",
    )  # fmt: skip
    p.add_argument(
        "--account", action="append", type=_account, default=[], metavar="ACCESS_KEY_ID=ACCOUNT",
        help="this access key acts for this account (repeatable; replaces the defaults "
        f"{PARTNER_ACCESS_KEY}={PARTNER_ACCOUNT} and {CUSTOMER_ACCESS_KEY}={CUSTOMER_ACCOUNT})",
    )  # fmt: skip
    _add_fault_flags(p)
    p.add_argument(
        "--max-recorded-events", type=int, default=200_000,
        help="events kept for /_emulator/events; the oldest half is forgotten when full",
    )  # fmt: skip
    net = p.add_argument_group("network", "what sits between a partner and AWS")
    net.add_argument(
        "--path-prefix", default="", metavar="PATH",
        help="serve under this path, as an API gateway does (endpoint_url http://HOST:PORT/PATH)",
    )  # fmt: skip
    net.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate")
    net.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    net.add_argument(
        "--gzip-responses", choices=("off", "accepted", "always"), default="off",
        help="gzip replies when the request accepts it, or always",
    )  # fmt: skip
    p.set_defaults(func=run)


def _add_fault_flags(p: argparse.ArgumentParser) -> None:
    """One flag per FaultConfig field, its `dest` the field's name (see options_from_args)."""
    p.add_argument(
        "--fault-entry", dest="entry_error_rates", action="append", type=_entry_fault,
        default=[], metavar="CODE=RATE",
        help="fail this share of entries with this error code (repeatable)",
    )  # fmt: skip
    for flag, dest in (
        ("--fault-throttle", "throttle_rate"),
        ("--fault-500", "error_500_rate"),
        ("--fault-503", "error_503_rate"),
        ("--fault-drop", "drop_rate"),
        ("--fault-drop-after", "drop_after_rate"),
    ):
        p.add_argument(flag, dest=dest, type=_rate, default=0.0, metavar="RATE")
    p.add_argument(
        "--fault-malformed", dest="malformed_rate", type=_rate, default=0.0, metavar="RATE",
        help="answer this share of PutPartnerEvents calls 200 with a body that is not the "
        "documented reply, without taking the entries",
    )  # fmt: skip
    p.add_argument("--latency-ms", dest="latency_ms", type=int, default=0)
    p.add_argument("--seed", dest="seed", type=int, default=0)


def options_from_args(args: argparse.Namespace) -> EmulatorOptions:
    """The EmulatorOptions the parsed flags describe."""
    return EmulatorOptions(
        region=args.region,
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
        max_request_bytes=args.max_request_bytes,
        accept_unknown_sources=args.accept_unknown_sources,
        accounts=dict(args.account) if args.account else default_accounts(),
        max_recorded_events=args.max_recorded_events,
        path_prefix=args.path_prefix,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        gzip_responses=args.gzip_responses,
        faults=_faults_from_args(args),
    )


def _faults_from_args(args: argparse.Namespace) -> FaultConfig:
    values = {f.name: getattr(args, f.name) for f in fields(FaultConfig)}
    values["entry_error_rates"] = dict(values["entry_error_rates"])
    return FaultConfig(**values)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; exit status 0 (2 when the TLS files cannot be used)."""
    if args.tls_key and not args.tls_cert:
        sys.stderr.write("error: --tls-key needs --tls-cert\n")
        return 2
    if args.tls_cert:
        try:  # the same load the server does, so a bad file is named before anything starts
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            sys.stderr.write(f"error: cannot serve TLS with {args.tls_cert}: {exc}\n")
            return 2
    asyncio.run(_serve(options_from_args(args), args.host, args.port))
    return 0


async def _serve(options: EmulatorOptions, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with running_emulator(options, host, port) as emulator:
            # Tests and scripts wait for this exact line to learn the (possibly chosen) port.
            sys.stdout.write(f"emulator listening on {emulator.url}\n")
            sys.stdout.flush()
            log.info("emulator_started", url=emulator.url, region=options.region)
            await stop.wait()
            log.info("emulator_stopping", url=emulator.url)
    finally:
        # Restore default handling so a second signal during shutdown really stops the process.
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
