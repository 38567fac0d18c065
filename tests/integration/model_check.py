"""Check a parsed boto3 answer against botocore's own output shape: members, types, rules."""

from __future__ import annotations

import datetime
import re
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def problems(value: Any, shape: Shape, path: str = "") -> list[str]:
    """Every way `value` breaks `shape` (an empty list when it conforms)."""
    if isinstance(shape, StructureShape):
        return _structure(value, shape, path)
    if isinstance(shape, ListShape):
        return _list(value, shape, path)
    if isinstance(shape, MapShape):
        return _map(value, shape, path)
    return _scalar(value, shape, path)


def _structure(value: Any, shape: StructureShape, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path or shape.name}: expected a structure, got {value!r}"]
    found = []
    for member in shape.required_members:
        if member not in value:
            found.append(f"{path}.{member}: required by {shape.name} but missing")
    for key, item in value.items():
        if key == "ResponseMetadata" and not path:
            continue
        if key not in shape.members:
            found.append(f"{path}.{key}: not a member of {shape.name}")
            continue
        found += problems(item, shape.members[key], f"{path}.{key}")
    return found


def _length(count: int, shape: Shape, path: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and count < low) or (high is not None and count > high):
        return [f"{path}: length {count} outside {low}..{high}"]
    return []


def _list(value: Any, shape: ListShape, path: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{path}: expected a list, got {value!r}"]
    found = _length(len(value), shape, path)
    for index, item in enumerate(value):
        found += problems(item, shape.member, f"{path}[{index}]")
    return found


def _map(value: Any, shape: MapShape, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected a map, got {value!r}"]
    found = _length(len(value), shape, path)
    for key, item in value.items():
        found += problems(key, shape.key, f"{path}<key {key}>")
        found += problems(item, shape.value, f"{path}[{key}]")
    return found


def _scalar(value: Any, shape: Shape, path: str) -> list[str]:
    kind = shape.type_name
    if kind == "string":
        return _string(value, shape, path)
    if kind == "timestamp":
        ok = isinstance(value, datetime.datetime)
        return [] if ok else [f"{path}: expected a timestamp, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: expected an integer, got {value!r}"]
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{path}: {value} outside {low}..{high}"]
    return []


def _string(value: Any, shape: Shape, path: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{path}: expected a string, got {value!r}"]
    found = _length(len(value), shape, path)
    enum = shape.enum
    if enum and value not in enum:
        found.append(f"{path}: {value!r} not one of {enum}")
    pattern = shape.metadata.get("pattern")
    # Java-style patterns: anchored ones are matched whole, the others must occur.
    if pattern is not None and re.search(pattern, value) is None:
        found.append(f"{path}: {value!r} does not match {pattern}")
    return found
