"""Reading the config: the YAML file, PUBLISHER__ overrides, and errors people can act on."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from publisher.errors import ConfigError
from publisher.settings.base import ENV_NAME_PATTERN, ENV_PREFIX, _is_number, _Section
from publisher.settings.files import choose_config, log_choice
from publisher.settings.sections import _TENANTS_ADAPTER, Settings, TenantSettings


def load_settings(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (named, or found: settings.files), apply env overrides, validate."""
    env = os.environ if environ is None else environ
    choice = choose_config(path, env)
    log_choice(choice)
    path = choice.path
    data: dict[str, Any] = {}
    if path:
        data = _read_yaml(Path(path))
    overridden = _apply_env_overrides(data, env)
    _refuse_booleans_as_numbers(data, path)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, overridden)) from None


def load_tenants_file(path: Path) -> dict[str, TenantSettings]:
    """The tenants of a tenants file: a YAML mapping like the config's `tenants` section.

    An empty file, or one that does not end with a newline, is refused: it is most likely
    being rewritten in place, and reading it now would drop tenants that still have events.
    """
    text = _read_text(path)
    if not text.strip():
        raise ConfigError(f"tenants file {path} is empty")
    if not text.endswith("\n"):
        raise ConfigError(f"tenants file {path} does not end with a newline: it looks cut short")
    data = _parse_yaml(text, path)
    try:
        return _TENANTS_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    return _parse_yaml(_read_text(path), path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is not UTF-8 text: {exc}") from None


# libyaml's parser when PyYAML was built with it: the same safe constructor and resolver, so
# the same values, at a fraction of the pure-Python parser's cost.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_load(text: str) -> Any:
    """yaml.safe_load's value; the pure-Python parser reports what libyaml cannot parse, since
    its messages quote the line and point at the column."""
    try:
        return yaml.load(text, Loader=_FAST_LOADER)  # a safe loader
    except yaml.YAMLError:
        return yaml.safe_load(text)


def _parse_yaml(text: str, path: Path) -> dict[str, Any]:
    try:
        data = _safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of sections")
    return data


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """PUBLISHER__AWS__ENDPOINT_URL=x sets data['aws']['endpoint_url']; returns which variable
    set which dotted key ('aws.endpoint_url'), so errors can name the variable."""
    overridden: dict[str, str] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        if not ENV_NAME_PATTERN.fullmatch(name):
            raise ConfigError(
                f"{name}: malformed variable name; expected {ENV_PREFIX}<SECTION>__<KEY> "
                "(letters, digits and single underscores, parts joined by __)"
            )
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {key} is not a section")
            node = child
        node[keys[-1]] = _env_value(raw)
        overridden[".".join(keys)] = name
    return overridden


def _env_value(raw: str) -> Any:
    """Plain text stays text (pydantic turns "20" into 20 or "true" into True where a field
    wants it, and keeps "0123" or a digit-only token as written); null, quoted scalars, lists
    and maps parse as YAML."""
    if raw.strip() in {"", "null", "~", "Null", "NULL"}:
        return None
    quoted = len(raw) >= 2 and raw[0] in "\"'" and raw[-1] == raw[0]
    if quoted or raw.lstrip()[:1] in {"[", "{"}:
        try:
            return _safe_load(raw)
        except yaml.YAMLError:
            return raw
    return raw


def _describe(
    exc: ValidationError, path: str | Path | None, overridden: Mapping[str, str] | None = None
) -> str:
    errors = exc.errors()
    locs = [".".join(str(part) for part in err["loc"]) for err in errors]
    if overridden and all(_set_by(loc, overridden) for loc in locs):
        where = "the environment overrides of the config are"
    else:
        where = f"config {path} is" if path else "config is"
    lines = [f"{where} invalid:"]
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        allowed = _allowed_range(err["loc"]) if err["type"] in _RANGE_ERRORS else None
        lines.append(
            f"  {loc}: {err['msg']}"
            + (f" (allowed: {allowed})" if allowed else "")
            + _set_by(loc, overridden or {})
        )
    return "\n".join(lines)


_RANGE_ERRORS = frozenset(
    {"finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal"}
)


def _allowed_range(loc: tuple[int | str, ...]) -> str | None:
    """The range a numeric key allows, as "[lo, hi]" (parentheses for open ends)."""
    if len(loc) < 2:
        return None
    for model in _section_models(str(loc[0])):
        field = model.model_fields.get(str(loc[-1]))
        if field is not None:
            return _range_text(field.metadata)
    return None


def _section_models(name: str) -> list[type[BaseModel]]:
    """The model(s) a top-level section may be (input: one per kind)."""
    section = Settings.model_fields.get(name)
    if section is None:
        return []
    candidates = [section.annotation, *get_args(section.annotation)]
    for candidate in list(candidates):
        candidates.extend(get_args(candidate))
    return [m for m in candidates if isinstance(m, type) and issubclass(m, _Section)]


def _refuse_booleans_as_numbers(data: dict[str, Any], path: str | Path | None) -> None:
    """YAML's `true` would otherwise become 1 in a number field (max_entries: true)."""
    errors = []
    for name, values in data.items():
        if not isinstance(values, dict):
            continue
        for model in _section_models(name):
            for key, value in values.items():
                field = model.model_fields.get(key)
                if isinstance(value, bool) and field is not None and _is_number(field.annotation):
                    errors.append(f"  {name}.{key}: a boolean is not a number")
    if errors:
        where = f"config {path}" if path else "config"
        raise ConfigError("\n".join([f"{where} is invalid:", *sorted(set(errors))]))


def _range_text(metadata: list[Any]) -> str | None:
    low = high = None
    for rule in metadata:
        for name, text in (("ge", "[{}"), ("gt", "({}")):
            if getattr(rule, name, None) is not None:
                low = text.format(getattr(rule, name))
        for name, text in (("le", "{}]"), ("lt", "{})")):
            if getattr(rule, name, None) is not None:
                high = text.format(getattr(rule, name))
    if low is None and high is None:
        return None
    return f"{low or '(-inf'}, {high or 'inf)'}"


def _set_by(loc: str, overridden: Mapping[str, str]) -> str:
    """' (set by PUBLISHER__X__Y)' when an environment variable set this key or a parent."""
    for key, variable in overridden.items():
        if loc == key or loc.startswith(key + "."):
            return f" (set by the environment variable {variable}, not the file)"
    return ""
