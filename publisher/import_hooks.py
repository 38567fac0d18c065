"""A library's first import run inside a context: for import-time work start-up can skip.

Some libraries do costly work at import that a short-lived command never uses (aiohttp reads
the system's CA store twice; structlog loads rich, when installed, for console tracebacks our
logs never render; pydantic's typed dicts compile each field's annotation text, which nothing
evaluates; yaml, urllib3 and idna compile regular expressions a run seldom matches against).
`run_first_import_within` changes the conditions of that one import, not
the library, and only if nothing has imported it yet.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
import typing
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


_ABSENT = object()


@contextmanager
def forward_refs_compiled_when_evaluated() -> Iterator[None]:
    """Within the block, a new typing.ForwardRef keeps its expression as text, which eval
    compiles if the reference is ever evaluated, instead of compiling it at once. Only for
    code whose annotations are valid expressions: a malformed one fails at evaluation."""
    previous = vars(typing).get("compile", _ABSENT)
    typing.compile = _expression_text  # type: ignore[attr-defined]  # shadows the builtin
    try:
        yield
    finally:
        if previous is _ABSENT:
            del typing.compile  # type: ignore[attr-defined]
        else:
            typing.compile = previous  # type: ignore[attr-defined]


def _expression_text(source: str, filename: str, mode: str) -> str:
    return source


@contextmanager
def patterns_compiled_at_first_use(package: str) -> Iterator[None]:
    """Within the block, re.compile called from `package`'s own modules returns a LazyPattern,
    compiled when first used; calls from any other module compile at once, as usual."""

    def compile_for_caller(pattern: Any, flags: int = 0) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == package or caller.startswith(f"{package}."):
            return LazyPattern(pattern, flags)
        return _compile_now(pattern, flags)

    previous = re.compile
    re.compile = compile_for_caller
    try:
        yield
    finally:
        re.compile = previous


class LazyPattern:
    """A regular expression compiled at its first use, then the compiled pattern's attributes.

    Stands for a module-level pattern that its module only calls methods of (match, search,
    sub...): it is not an re.Pattern to isinstance or to the re module's functions."""

    def __init__(self, pattern: Any, flags: int = 0) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        value = getattr(_compile_now(*self._source), name)
        setattr(self, name, value)  # later lookups find it without coming back here
        return value


_compile_now = re.compile


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
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.abc.Loader):
            spec.loader = _LoaderWithin(spec.loader, self)
        return spec

    def execute(self, loader: importlib.abc.Loader, module: ModuleType) -> None:
        # Stays on the path until the module runs: a library that only asks whether another
        # is installed (importlib.util.find_spec) must not use up the hook.
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # once: later imports take the module from sys.modules
        with self._around():
            loader.exec_module(module)


class _LoaderWithin(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, finder: _Finder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._finder.execute(self._loader, module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, ...: the real loader's
        return getattr(self._loader, name)
