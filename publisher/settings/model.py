"""The whole configuration: every section, with its defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    SecretStr,
)

from publisher.settings.base import _Section
from publisher.settings.inputs import InputSettings, SpoolInputSettings
from publisher.settings.sections import (
    AdminSettings,
    AwsSettings,
    DeadLetterSettings,
    IngestSettings,
    LedgerSettings,
    PublishSettings,
    RetrySettings,
    SourcesSettings,
    TenantSettings,
)


class Settings(_Section):
    aws: AwsSettings = Field(default_factory=AwsSettings)
    input: InputSettings = Field(default_factory=SpoolInputSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    dead_letter: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    tenants_file: Path | None = None
    """Optional YAML mapping of more tenants, re-read on SIGHUP without a restart."""

    def redacted(self) -> dict[str, Any]:
        """The effective config as plain data, secrets replaced by '***'."""
        data = self.model_dump(mode="json")
        if data["ingest"].get("token") is not None:
            data["ingest"]["token"] = "***"
        for key in ("dsn", "url"):
            secret = getattr(self.input, key, None)
            if isinstance(secret, SecretStr):
                data["input"][key] = redact_url(secret.get_secret_value())
        if self.dead_letter.dsn is not None:
            data["dead_letter"]["dsn"] = redact_url(self.dead_letter.dsn)
        return data


def redact_url(url: str) -> str:
    """The URL with its password replaced by '***' (for logs and `config check`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # a libpq key=value string
        return "***" if "password" in url.lower() else url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{host}"
