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

import importlib.abc
import importlib.machinery
import ssl
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

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
    install_for(TARGET)


def install_for(module: str) -> None:
    """Import `module` under deferred_default_trust() when something first imports it."""
    if module in sys.modules or any(
        isinstance(f, _Finder) and f.module == module for f in sys.meta_path
    ):
        return
    sys.meta_path.insert(0, _Finder(module))


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


class _Finder(importlib.abc.MetaPathFinder):
    """Finds one module as the path finder does, and runs it under deferred trust."""

    def __init__(self, module: str) -> None:
        self.module = module

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)  # once: later imports take the module from sys.modules
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.abc.Loader):
            spec.loader = _DeferringLoader(spec.loader)
        return spec


class _DeferringLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with deferred_default_trust():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, ...: the real loader's
        return getattr(self._loader, name)
