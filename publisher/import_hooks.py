"""A library's first import run inside a context: for import-time work start-up can skip.

Some libraries do costly work at import that a short-lived command never uses (aiohttp reads
the system's CA store twice; structlog loads rich, when installed, for console tracebacks our
logs never render). `run_first_import_within` changes the conditions of that one import, not
the library, and only if nothing has imported it yet.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType
from typing import Any

Around = Callable[[], AbstractContextManager[object]]


def run_first_import_within(module: str, around: Around) -> None:
    """Execute `module` under `around()` when something first imports it (if not yet)."""
    if module in sys.modules or any(
        isinstance(f, _Finder) and f.module == module for f in sys.meta_path
    ):
        return
    sys.meta_path.insert(0, _Finder(module, around))


@contextmanager
def hidden_modules(*names: str) -> Iterator[None]:
    """Within the block, importing one of `names` fails as if it were not installed (unless it
    already is imported); afterwards it imports as usual."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "absent"
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


class _Finder(importlib.abc.MetaPathFinder):
    """Finds one module as the path finder does, and runs it under its context."""

    def __init__(self, module: str, around: Around) -> None:
        self.module = module
        self._around = around

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)  # once: later imports take the module from sys.modules
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.abc.Loader):
            spec.loader = _LoaderWithin(spec.loader, self._around)
        return spec


class _LoaderWithin(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, around: Around) -> None:
        self._loader = loader
        self._around = around

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with self._around():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, ...: the real loader's
        return getattr(self._loader, name)
