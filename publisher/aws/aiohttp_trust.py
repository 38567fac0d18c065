"""aiohttp's default TLS contexts, reading the system's CA store at their first connection.

Importing aiohttp builds two default SSLContexts (aiohttp.connector), each reading the
system's CA store: for a short `send`, a fifth of its CPU. Our AWS clients pass their own
context on every HTTPS route (network.tls_context) and a plain-HTTP endpoint needs none, so
that read is usually wasted; yet a request that relies on aiohttp's default (the daemon's
client library, a proxy) must still be verified against the system store. `install()`
makes the import build both contexts with all of aiohttp's settings except the store, which
each reads just before its first handshake. Until then a verifying context trusts nothing,
so anything that reached it another way would fail closed, never open.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from publisher.import_hooks import run_first_import_within

TARGET = "aiohttp.connector"


class TrustOnFirstUse(ssl.SSLContext):
    """An SSLContext whose set_default_verify_paths() was deferred to its first connection."""

    _lock = threading.Lock()
    _trust_pending = False

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load_deferred_trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load_deferred_trust()
        return super().wrap_bio(*args, **kwargs)

    def load_deferred_trust(self) -> None:
        if self._trust_pending:
            with self._lock:
                if self._trust_pending:
                    self.set_default_verify_paths()
                    self._trust_pending = False


def install() -> None:
    """Defer the CA store reads of aiohttp's import, if aiohttp.connector is not imported yet."""
    run_first_import_within(TARGET, deferred_default_trust)


@contextmanager
def deferred_default_trust() -> Iterator[list[ssl.SSLContext]]:
    """Within the block, set_default_verify_paths() only notes its context (in the list
    yielded); afterwards each noted context reads the store at its first connection."""
    pending: list[ssl.SSLContext] = []

    def note(context: ssl.SSLContext) -> None:
        pending.append(context)

    ssl.SSLContext.set_default_verify_paths = note  # type: ignore[method-assign,assignment]
    try:
        yield pending
    finally:
        del ssl.SSLContext.set_default_verify_paths  # the C method is inherited again
        for context in pending:
            if type(context) is ssl.SSLContext:
                context.__class__ = TrustOnFirstUse
            if isinstance(context, TrustOnFirstUse):
                context._trust_pending = True
            else:  # a subclass of another library: it reads the store now, as it asked
                context.set_default_verify_paths()
