"""The project's exceptions: one root, subclasses carry data."""

from __future__ import annotations


class PublisherError(Exception):
    """partner-publisher failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class SourceAdminError(PublisherError):
    """A partner event source call failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConfigError(PublisherError):
    """The configuration is invalid."""


class InvalidEvent(PublisherError):
    """An event breaks a rule; `field` names where and `rule` says which."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class InputFull(PublisherError):
    """The input is full; try again later."""


class DiskFull(InputFull):
    """The input's disk is full; try again later."""


class InputUnavailable(PublisherError):
    """The input cannot be reached."""


class StartRefused(PublisherError):
    """The daemon refuses to start: a part it needs is not in a state it can run with."""


class SpoolDamaged(StartRefused):
    """The spool file is damaged or is not the one that held the pending events."""
