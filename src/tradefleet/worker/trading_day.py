"""The market day as the trading cycle sees it: the session clock, the liquidation time (the
operator may move it earlier), and the last moment a new entry may still be made.

Every check here is judged by the session clock, the same clock the liquidation runs on: in
a compressed simulation a minute of real lag is many session minutes, and the rule is about
whether the liquidation has time to undo an entry, which is session time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tradefleet.ports.clock import Clock


class TradingDay:
    def __init__(self, clock: Clock, *, liquidation_at: datetime,
                 entry_cutoff: timedelta, scan_max_age: timedelta) -> None:
        """``entry_cutoff``: no new entry at or after ``liquidation_at - entry_cutoff``.
        ``scan_max_age``: a scan whose quotes are older than this is not traded on."""
        self.clock = clock
        self.liquidation_at = liquidation_at
        self.entry_cutoff = entry_cutoff
        self.scan_max_age = scan_max_age

    def now(self) -> datetime:
        return self.clock.now()

    def day(self) -> date:
        return self.clock.now().date()

    @property
    def entry_closes_at(self) -> datetime:
        return self.liquidation_at - self.entry_cutoff

    def liquidation_due(self) -> bool:
        return self.clock.now() >= self.liquidation_at

    def entry_closed(self) -> bool:
        """True from the entry cutoff on: the liquidation could not undo a new entry."""
        return self.clock.now() >= self.entry_closes_at

    def scan_age(self, quoted_at: datetime) -> timedelta:
        return self.clock.now() - quoted_at

    def liquidate_earlier(self, at: datetime) -> bool:
        """The operator's order: liquidate from ``at`` if that is earlier (never later).
        The entry cutoff moves with it."""
        if at < self.liquidation_at:
            self.liquidation_at = at
            return True
        return False
