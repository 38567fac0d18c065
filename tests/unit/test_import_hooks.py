"""A module's first import run inside a context, and modules hidden for the time of a block."""

from __future__ import annotations

import importlib.util
import re
import sys
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest

from publisher.import_hooks import (
    LazyPattern,
    forward_refs_compiled_when_evaluated,
    hidden_modules,
    patterns_compiled_at_first_use,
    run_first_import_within,
)

# Records whether an optional module could be imported, as structlog does with rich.
MODULE = """
try:
    import {optional}
except ImportError:
    {optional} = None
"""


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """An importable module using an optional one, both only on this test's path."""
    user, optional = "publisher_test_hook_user", "publisher_test_hook_optional"
    (tmp_path / f"{user}.py").write_text(MODULE.format(optional=optional))
    (tmp_path / f"{optional}.py").write_text("PRESENT = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield user, optional
    for name in (user, optional):
        sys.modules.pop(name, None)


def test_the_first_import_runs_within_the_context_and_later_ones_import_as_usual(
    modules: tuple[str, str],
) -> None:
    user, optional = modules
    run_first_import_within(user, lambda: hidden_modules(optional))
    module = __import__(user)
    assert getattr(module, optional) is None
    assert optional not in sys.modules
    assert __import__(optional).PRESENT
    assert not any(getattr(f, "module", None) == user for f in sys.meta_path)


def test_the_context_is_entered_once_and_only_for_that_module(
    modules: tuple[str, str],
) -> None:
    user, optional = modules
    entered: list[str] = []

    @contextmanager
    def noting() -> Iterator[None]:
        entered.append("in")
        yield

    run_first_import_within(user, noting)
    run_first_import_within(user, noting)
    __import__(optional)
    assert entered == []
    __import__(user)
    sys.modules.pop(user)
    __import__(user)
    assert entered == ["in"]


def test_asking_whether_a_module_is_installed_does_not_use_up_its_hook(
    modules: tuple[str, str],
) -> None:
    user, optional = modules
    run_first_import_within(user, lambda: hidden_modules(optional))
    assert importlib.util.find_spec(user) is not None  # as yarl asks about pydantic_core
    assert getattr(__import__(user), optional) is None


def test_a_module_already_imported_is_neither_hidden_nor_hooked() -> None:
    with hidden_modules("json"):
        import json

        assert json.dumps(1) == "1"
    run_first_import_within("json", lambda: hidden_modules("re"))
    assert not any(getattr(f, "module", None) == "json" for f in sys.meta_path)


def test_forward_refs_made_within_the_block_compile_only_when_evaluated() -> None:
    with forward_refs_compiled_when_evaluated():
        deferred = typing.ForwardRef("list[int]")
        with forward_refs_compiled_when_evaluated():
            nested = typing.ForwardRef("int")
        still_deferred = typing.ForwardRef("str")
    compiled = typing.ForwardRef("int")
    assert deferred.__forward_code__ == "list[int]"
    assert nested.__forward_code__ == "int"
    assert still_deferred.__forward_code__ == "str"
    assert not isinstance(compiled.__forward_code__, str)
    assert "compile" not in vars(typing)

    annotated = type("Annotated", (), {"__annotations__": {"first": deferred, "second": nested}})
    assert typing.get_type_hints(annotated) == {"first": list[int], "second": int}


def test_outside_the_block_a_malformed_forward_ref_still_fails_at_once() -> None:
    with forward_refs_compiled_when_evaluated():
        pass
    with pytest.raises(SyntaxError):
        typing.ForwardRef("not an expression")


# Compiles one pattern at import, as yaml and urllib3 do, and one through a helper module.
PATTERN_MODULE = """
import re
import {helper}
WORD = re.compile(r"[a-z]+")
HELPERS = {helper}.compiled()
"""
HELPER_MODULE = """
import re
def compiled():
    return re.compile(r"[0-9]+")
"""


def test_a_package_compiles_its_own_patterns_at_first_use_and_others_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, helper = "publisher_test_patterns_user", "publisher_test_patterns_helper"
    (tmp_path / f"{user}.py").write_text(PATTERN_MODULE.format(helper=helper))
    (tmp_path / f"{helper}.py").write_text(HELPER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    compiling = re.compile
    try:
        run_first_import_within(user, partial(patterns_compiled_at_first_use, user))
        module = __import__(user)
    finally:
        for name in (user, helper):
            sys.modules.pop(name, None)
    assert re.compile is compiling
    assert isinstance(module.WORD, LazyPattern)
    assert "match" not in vars(module.WORD)
    assert module.WORD.match("abc1").group() == "abc"
    assert module.WORD.sub("-", "ab1cd") == "-1-"
    assert module.WORD.pattern == "[a-z]+"
    assert isinstance(module.HELPERS, re.Pattern)  # another module's: compiled as usual


def test_a_lazy_pattern_behaves_as_the_compiled_one() -> None:
    lazy, compiled = LazyPattern(r"(\w+)@(\w+)", re.ASCII), re.compile(r"(\w+)@(\w+)", re.ASCII)
    text = "a@b c@d é@f"
    assert lazy.findall(text) == compiled.findall(text)
    assert lazy.fullmatch("x@y").groups() == ("x", "y")
    assert (lazy.flags, lazy.groups) == (compiled.flags, compiled.groups)
