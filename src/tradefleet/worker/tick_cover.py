"""The held symbol's last tick judged on the feed, lent to the poll (issue 20).

While the account's feed is live, every trade of the held symbol is judged on the tick
(``worker/tick_exits.py``). A HOLD poll that then reads the same symbol's quote and minute
bars by REST learns nothing the tick did not already say, spends two of the account's
requests (20 a second for the whole fleet: with many workers the reads queue), and holds
the cycle's turn while it waits for them, which is exactly when a tick that crosses an exit
waits for that turn. So the poll judges on the last judged tick instead, with no request,
when that tick is:

- of the held symbol, and judged within ``fresh_s`` real seconds of the feed being live
  (the feed going off lapses the cover at once: the poll reads by REST again);
- in the current session minute, so that its trend average (closed minute bars, read by
  the tick's own judge) is the one a REST read would give now; and
- judged with a known average (a failed bar read leaves the poll to REST).

The time exit and liquidation compare the clock, not the price, so they stay the poll's
as before. Nothing here decides or sells: it only says what the last tick was."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

FRESH_S = 2.0       # real seconds: the listener's own staleness bound (feed.stale_after_seconds)


@dataclass(frozen=True, slots=True)
class JudgedTick:
    symbol: str
    price: int
    short_ma: Decimal | None
    minute: datetime          # the session minute of the tick
    seen: float               # monotonic seconds when it was judged


class TickCover:
    def __init__(self, fresh_s: float = FRESH_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._fresh_s = fresh_s
        self._monotonic = monotonic
        self._last: JudgedTick | None = None

    def judged(self, symbol: str, price: int, short_ma: Decimal | None,
               at: datetime) -> None:
        """A tick of ``symbol`` at session time ``at`` was judged with this average."""
        self._last = JudgedTick(symbol, price, short_ma, session_minute(at), self._monotonic())

    def lapse(self) -> None:
        """The feed is not live: nothing it said before counts any more."""
        self._last = None

    def fresh(self, symbol: str, now: datetime) -> JudgedTick | None:
        """The last judged tick of ``symbol`` if the poll may judge on it now, else None."""
        last = self._last
        if last is None or last.symbol != symbol:
            return None
        if self._monotonic() - last.seen > self._fresh_s:
            return None
        if session_minute(now) != last.minute:
            return None             # a bar closed since: the trend average moved
        return last


def session_minute(at: datetime) -> datetime:
    """The minute bar ``at`` falls in."""
    return at.replace(second=0, microsecond=0)
