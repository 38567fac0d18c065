"""Which config file a command uses when none is named: the usual places, in order.

`--config PATH`, then `PUBLISHER_CONFIG`, then `./partner-publisher.yaml`, then
`$XDG_CONFIG_HOME/partner-publisher/config.yaml` (`~/.config/...` when XDG_CONFIG_HOME is
unset). Without any, the defaults and `PUBLISHER__...` overrides apply, which target real
AWS: so the choice is logged at debug level and shown by `config check`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

CONFIG_ENV = "PUBLISHER_CONFIG"
LOCAL_NAME = "partner-publisher.yaml"
USER_RELATIVE = Path("partner-publisher") / "config.yaml"

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ConfigChoice:
    """The file in use (or None) and how it was found, for people to read."""

    path: Path | None
    found_by: str

    def describe(self) -> str:
        if self.path is None:
            return f"no config file ({self.found_by}): defaults and PUBLISHER__ overrides only"
        return f"{self.path} ({self.found_by})"


def user_config_path(env: Mapping[str, str]) -> Path | None:
    """`$XDG_CONFIG_HOME/partner-publisher/config.yaml`, or under `$HOME/.config`."""
    base = env.get("XDG_CONFIG_HOME") or (
        str(Path(env["HOME"]) / ".config") if env.get("HOME") else None
    )
    return Path(base) / USER_RELATIVE if base else None


def choose_config(
    explicit: str | Path | None, env: Mapping[str, str], cwd: Path | None = None
) -> ConfigChoice:
    """The config file to read, by the order in the module docstring."""
    if explicit:
        return ConfigChoice(Path(explicit), "--config")
    if env.get(CONFIG_ENV):
        return ConfigChoice(Path(env[CONFIG_ENV]), CONFIG_ENV)
    local = (cwd or Path.cwd()) / LOCAL_NAME
    if local.is_file():
        return ConfigChoice(Path(LOCAL_NAME), "found in the working directory")
    user = user_config_path(env)
    if user is not None and user.is_file():
        return ConfigChoice(user, "found in the user's config directory")
    looked = f"./{LOCAL_NAME}" + (f", {user}" if user is not None else "")
    return ConfigChoice(None, f"no --config, no {CONFIG_ENV}, none at {looked}")


def log_choice(choice: ConfigChoice) -> None:
    """Say at debug level which file a command reads."""
    log.debug(
        "config_file",
        path=None if choice.path is None else str(choice.path),
        found_by=choice.found_by,
    )
