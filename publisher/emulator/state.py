"""The emulator's whole mutable state, shared by the AWS handlers and the control endpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from publisher.emulator.appintegrations import AppIntegrationsStore
from publisher.emulator.faults import FaultConfig, FaultInjector
from publisher.emulator.options import EmulatorOptions
from publisher.emulator.profiles import ProfilesStore
from publisher.emulator.recorder import EventLog, Stats
from publisher.emulator.restjson import RestFaults
from publisher.emulator.sources import SourceRegistry


@dataclass(slots=True)
class EmulatorState:
    """Sources, integrations, recorded events, counters and fault settings of one emulator."""

    options: EmulatorOptions
    sources: SourceRegistry = field(default_factory=SourceRegistry)
    events: EventLog = field(default_factory=EventLog)
    stats: Stats = field(default_factory=Stats)
    faults: FaultInjector = field(default_factory=FaultInjector)
    custom_buses: dict[str, float] = field(default_factory=dict)  # bus ARN -> created at
    app_integrations: AppIntegrationsStore = field(default_factory=AppIntegrationsStore)
    profiles: ProfilesStore = field(default_factory=ProfilesStore)
    rest_faults: RestFaults = field(default_factory=RestFaults)
    started_at: float = field(default_factory=time.time)  # the `default` buses' creation time

    @classmethod
    def from_options(cls, options: EmulatorOptions) -> EmulatorState:
        """A fresh state with the options' faults in force."""
        return cls(
            options=options,
            events=EventLog(options.max_recorded_events),
            faults=FaultInjector(replace(options.faults)),
        )

    def reset(self) -> None:
        """Back to empty: no events, counters, sources, integrations, domains or faults."""
        self.sources.clear()
        self.app_integrations.clear()
        self.profiles.clear()
        self.rest_faults.clear()
        self.custom_buses.clear()
        self.events.clear()
        self.stats = Stats()
        self.faults.configure(FaultConfig())

    def source_arn(self, name: str) -> str:
        """The partner event source ARN (its account field is empty)."""
        return f"arn:aws:events:{self.options.region}::event-source/{name}"

    def bus_arn(self, account: str, name: str) -> str:
        """An event bus ARN."""
        return f"arn:aws:events:{self.options.region}:{account}:event-bus/{name}"
