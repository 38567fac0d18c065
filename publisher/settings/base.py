"""The shared parts of every config section: the base model, limits, small checks."""

from __future__ import annotations

import ipaddress
import re
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
)

ENV_PREFIX = "PUBLISHER__"

AWS_MAX_REQUEST_BYTES = 1_048_576
# Lower-case unquoted identifiers, optionally schema-qualified: safe to write into DDL as is.
OUTBOX_TABLE_PATTERN = r"^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,50}$"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A variable name: PUBLISHER__ then keys of letters, digits and single underscores, joined by
# double underscores (PUBLISHER____PUBLISH____LINGER_MS is a typo, not a key).
ENV_NAME_PATTERN = re.compile(r"PUBLISHER(__[A-Za-z0-9]+(_[A-Za-z0-9]+)*)+")


class _Section(BaseModel):
    # Numbers must be finite (inf/nan would pass every >= bound, then hang or kill the daemon).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _is_number(annotation: Any) -> bool:
    return annotation in (int, float) or (
        get_origin(annotation) in (Union, UnionType)
        and any(arg in (int, float) for arg in get_args(annotation))
    )
