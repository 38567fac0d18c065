"""Typed configuration: one YAML file, every key overridable by PUBLISHER__SECTION__KEY.

base: the shared section model and limits; inputs: the `input:` kinds; sections: the other
sections and `Settings`; loading: file + environment -> `Settings`; files: which file.
"""

from publisher.settings.base import (
    AWS_MAX_REQUEST_BYTES,
    ENV_NAME_PATTERN,
    ENV_PREFIX,
    OUTBOX_TABLE_PATTERN,
    is_loopback,
)
from publisher.settings.inputs import (
    AmqpInputSettings,
    InputSettings,
    PostgresInputSettings,
    RedisInputSettings,
    SpoolInputSettings,
    SqsInputSettings,
)
from publisher.settings.loading import load_settings, load_tenants_file
from publisher.settings.sections import (
    AdminSettings,
    AwsSettings,
    DeadLetterSettings,
    IngestSettings,
    LedgerSettings,
    PublishSettings,
    RetrySettings,
    Settings,
    SourcesSettings,
    TenantSettings,
    redact_url,
)

__all__ = [
    "AWS_MAX_REQUEST_BYTES",
    "ENV_NAME_PATTERN",
    "ENV_PREFIX",
    "OUTBOX_TABLE_PATTERN",
    "AdminSettings",
    "AmqpInputSettings",
    "AwsSettings",
    "DeadLetterSettings",
    "IngestSettings",
    "InputSettings",
    "LedgerSettings",
    "PostgresInputSettings",
    "PublishSettings",
    "RedisInputSettings",
    "RetrySettings",
    "Settings",
    "SourcesSettings",
    "SpoolInputSettings",
    "SqsInputSettings",
    "TenantSettings",
    "is_loopback",
    "load_settings",
    "load_tenants_file",
    "redact_url",
]
