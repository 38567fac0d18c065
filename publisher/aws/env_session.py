"""botocore's session for the one case where the environment decides everything, without it.

Importing aiobotocore's session loads the SDK's whole client stack (client classes, waiters,
paginators, their docs), which the fast client never uses; it needs only the credentials and
a few settings. When no profile is named, no shared config or credentials file exists and
the environment holds static keys, botocore's answers are certain: its credential chain
stops at the environment, and each setting comes from its environment variable or its
default. `env_session` returns, in that case only, an object answering like the session,
with botocore's own providers (configprovider, EnvProvider) over an empty profile; in every
other case None, and the caller uses the real session.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.configprovider import ConfigValueStore, create_botocore_default_config_mapping
from botocore.credentials import Credentials, EnvProvider, ReadOnlyCredentials

from publisher.settings import AwsSettings

SHARED_FILES = ("config_file", "credentials_file")


class StaticCredentials:
    """Keys that never change, read through the async interface of aiobotocore's."""

    def __init__(self, frozen: ReadOnlyCredentials) -> None:
        self._frozen = frozen

    async def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._frozen


class EnvSession:
    """The parts of the session the fast client reads, as botocore answers them with no
    instance variables and no profile (ConfigChainFactory reads only those two)."""

    def __init__(self) -> None:
        self.full_config: dict[str, Any] = {"profiles": {}}  # botocore's when no file exists
        self._store = ConfigValueStore(create_botocore_default_config_mapping(self))
        self.credentials: StaticCredentials | None = None

    def instance_variables(self) -> dict[str, Any]:
        return {}

    def get_scoped_config(self) -> dict[str, Any]:
        return {}

    def get_config_variable(self, name: str) -> Any:
        return self._store.get_config_variable(name)

    def get_component(self, name: str) -> Any:
        from botocore.loaders import create_loader  # only for the rule set (no endpoint_url)

        if name != "data_loader":
            raise ValueError(f"no component {name!r} outside the SDK's session")
        return create_loader(self.get_config_variable("data_path"))

    async def get_credentials(self) -> StaticCredentials | None:
        return self.credentials


def env_session(aws: AwsSettings) -> EnvSession | None:
    """An EnvSession when botocore's session would answer exactly as it does, else None."""
    if aws.profile is not None:
        return None  # a named profile turns the environment's keys off
    session = EnvSession()
    if session.get_config_variable("profile") is not None:
        return None  # AWS_PROFILE: botocore looks for it in the files, and may refuse
    if any(_is_file(session.get_config_variable(name)) for name in SHARED_FILES):
        return None
    try:
        credentials = EnvProvider().load()
    except Exception:  # e.g. a key without its secret: the SDK's session says so, as before
        return None
    if type(credentials) is not Credentials:
        return None  # none at all (the chain goes on), or refreshable (an expiry is set)
    session.credentials = StaticCredentials(credentials.get_frozen_credentials())
    return session


def _is_file(path: str | None) -> bool:
    """Whether botocore would read this shared file (configloader: vars, then ~, expanded)."""
    return path is not None and os.path.isfile(os.path.expanduser(os.path.expandvars(path)))
