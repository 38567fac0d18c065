"""Where and how the AMQP input connects, read from its amqp:// or amqps:// URL."""

from __future__ import annotations

import ssl
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to connect, read from an amqp:// or amqps:// URL as aiormq reads it."""

    DEFAULT_HEARTBEAT_S: ClassVar[int] = 60
    """aiormq's, for a URL without `heartbeat`."""

    host: str
    port: int
    user: str
    password: str
    vhost: str
    heartbeat_s: int
    tls: Mapping[str, str] | None
    """None for amqp://; for amqps://, the URL's query (its TLS options as aiormq reads them)."""

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        secure = parts.scheme == "amqps"
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        path = parts.path[1:]
        heartbeat = query.get("heartbeat", str(cls.DEFAULT_HEARTBEAT_S))
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (5671 if secure else 5672),
            user=unquote(parts.username or "guest"),
            password=unquote(parts.password or "guest"),
            vhost=unquote(path) if path else "/",
            heartbeat_s=int(heartbeat) if heartbeat.isdigit() else cls.DEFAULT_HEARTBEAT_S,
            tls=query if secure else None,
        )

    def tls_context(self) -> ssl.SSLContext | None:
        """aiormq's TLS options: cafile, capath, cadata (base64), certfile, keyfile and
        no_verify_ssl."""
        if self.tls is None:
            return None
        options = self.tls
        cadata = options.get("cadata")
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=options.get("cafile"),
            capath=options.get("capath"),
            cadata=b64decode(cadata) if cadata else None,
        )
        if certfile := options.get("certfile"):
            context.load_cert_chain(certfile, options.get("keyfile"))
        if options.get("no_verify_ssl", "0") != "0":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
