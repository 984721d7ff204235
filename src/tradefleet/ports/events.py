"""Where events go. The Postgres sink appends them to ``events``; every sink also logs them
(spec §6). Store methods that change state write their events in the same transaction and
return them, and the service hands them to ``log`` only; ``publish`` is for events that
describe no row change (MonitoringEvent, CandidateScannedEvent, RiskViolationEvent...)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from tradefleet.domain.events import Event


@runtime_checkable
class EventSink(Protocol):
    async def publish(self, event: Event) -> None:
        """Store the event and log it."""
        ...

    def log(self, events: Iterable[Event]) -> None:
        """Log events that were already stored (in the transaction of their state change)."""
        ...
