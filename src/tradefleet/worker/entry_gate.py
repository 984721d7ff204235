"""The last word before a buy's order row is written: is there still time for the forced
liquidation to undo it, and is the scan it was decided on still fresh?

Asked right before the row, on the session clock at that moment, not at the start of the
poll: on a busy machine (or a compressed day) a scan can take session minutes, and a poll
that began before the cutoff must not buy after it. A refusal is a named event (and its
WARN log line): ``EntryCutoffEvent`` or ``StaleScanDiscardedEvent``."""

from __future__ import annotations

from datetime import datetime

from tradefleet.domain.events import EntryCutoffEvent, StaleScanDiscardedEvent
from tradefleet.ports.events import EventSink
from tradefleet.worker.trading_day import TradingDay

ENTRY_CUTOFF = "ENTRY_CUTOFF"
STALE_SCAN = "STALE_SCAN"


class EntryGate:
    def __init__(self, day: TradingDay, sink: EventSink, *, worker_id: str) -> None:
        self._day = day
        self._sink = sink
        self._worker_id = worker_id

    async def refusal(self, symbol: str, quoted_at: datetime) -> str | None:
        """None when the entry may be written; else why not (ENTRY_CUTOFF, STALE_SCAN),
        after publishing the event. ``quoted_at``: the time of the quote it was decided on."""
        day = self._day
        now = day.now()
        if now >= day.entry_closes_at:
            await self._sink.publish(EntryCutoffEvent(
                worker_id=self._worker_id, symbol=symbol, now=now,
                cutoff_at=day.entry_closes_at, liquidation_at=day.liquidation_at,
                quoted_at=quoted_at))
            return ENTRY_CUTOFF
        age = now - quoted_at
        if age > day.scan_max_age:
            await self._sink.publish(StaleScanDiscardedEvent(
                worker_id=self._worker_id, symbol=symbol, quoted_at=quoted_at,
                age_seconds=round(age.total_seconds(), 3),
                max_age_seconds=day.scan_max_age.total_seconds()))
            return STALE_SCAN
        return None
