"""Replay-only: a scan answered with the worker's previous one when it found no signal on
the same market step (issue 21, speed).

A worker in SCAN polls every 5 s and the replay's market steps every 10 s
(``STEP_SECONDS``), so every other scan of a worker that finds nothing to buy reads the
market of the scan before it. That scan (the worker's ``Scan``: the universe's quotes, the
minute bars of the symbols that pass the pre-filters, the strategy, the candidate rows and
the ``CandidateScannedEvent``) is not run again; the cycle is handed the previous result,
which has no candidate, when all of these hold:

1. the worker's previous scan returned (it did not raise) and ranked no symbol at all:
   nothing passed filter and signal. A scan that found a candidate is always run again,
   even on the same step: its candidates carry their quote, whose time (``Quote.at``, the
   clock's) the entry gate judges the scan's age and the entry cutoff by, and who holds
   which lock (a peer's release) decides what the entry does with them;
2. the market has not stepped since that scan: the tape is indexed by step, and nothing
   but ``SimMarket._advance`` moves it (orders fill against the book derived from it,
   resting ones at each step's own time, whenever the step is read), so the quotes' prices,
   volumes, spreads and limits and every minute bar are the same numbers
   (``replay.step_reads`` says the same of its memo). Only ``Quote.at`` differs, and the
   scan uses it in one place, ``closed_bars`` (a bar counts once its minute has ended by
   the quote's time): a bar's minute starts at the open plus whole minutes
   (``SimMarket.minute_bars``), so it ends on a market step (60 s is six steps), and two
   times in the same step lie on the same side of every such end. The pre-filters read no
   time. The strategy is pure by its contract (``domain.strategies.base``: a function of
   the closes, volumes and prices it is given), so it signals nothing again;
3. no fault rule is armed in the market's fault plan, at that scan nor now: a rule can
   fail a read or draw from its own random stream at each call, so a read left out would
   change what a later read meets. (A replay arms none; the check keeps it so.)

The scanner is the worker's own (``build_worker`` gives it shared scans only over a
``SharedQuotesBroker``; a replay's broker is a ``SimBroker``), and its universe, filters,
strategy and parameter version are fixed for the session. So the skipped scan would have
ranked nothing, and the cycle returns right after an empty ranking: it enters nothing,
sends nothing and moves nowhere. Everything else of that poll still runs as before (the
operator's controls, the reads of its orders, positions and locks, the orphan and
stray-share look, the buy-window and liquidation checks): those are the cycle's, not the
scan's, which is why this skip needs no condition on them.

What the skipped scan would have written besides: its candidate rows and one
``CandidateScannedEvent``. Nothing the workers decide by reads either. The one reader of
candidate rows in a trade's path, the SC-011 trade note (``position_store._trade_note``),
takes the worker's newest row of the symbol at or before the entry: where that was the
skipped scan's row, it is now the previous scan's, written from the same quote and bars
(a row exists in one exactly when in the other) with the same filters, indicators, spread
and traded value, the fields the note keeps. Trades, fills and summaries are unchanged
(``tests/test_quiet_scans.py`` compares a fleet day with and without; the parity test
runs the replay with it against the simulated day without). Live workers never use this:
it wraps a cycle's scan inside ``replay.runner`` only."""

from __future__ import annotations

from datetime import date
from typing import Any

from tradefleet.adapters.sim.universe import STEP_SECONDS


class _QuietScan:
    """The cycle's ``Scan`` as it is, or the worker's previous empty result (see the
    module)."""

    def __init__(self, scan: Any, owner: QuietScans, key: int) -> None:
        self._scan = scan
        self._owner = owner
        self._key = key

    async def __call__(self, trading_day: date) -> Any:
        owner, key = self._owner, self._key
        step = owner.step()
        last = owner.last.pop(key, None)
        if last is not None and last[0] == step and owner.unfaulted():
            owner.last[key] = last
            owner.skipped += 1
            return last[1]
        result = await self._scan(trading_day)
        if not result.ranked and owner.unfaulted():
            owner.last[key] = (step, result)
        return result


class QuietScans:
    """Which scans of a stepped fleet's workers to answer with their previous one."""

    def __init__(self, market: Any) -> None:
        self._market = market
        self.last: dict[int, tuple[int, Any]] = {}  # cycle -> (step, its last empty scan)
        self.skipped = 0

    def watch(self, cycle: Any) -> None:
        """Put the skip in front of ``cycle``'s scan."""
        cycle._scan = _QuietScan(cycle._scan, self, id(cycle))

    def step(self) -> int:
        """The market step of the clock's time."""
        market = self._market
        return int((market.clock.now() - market.open_at).total_seconds()) // STEP_SECONDS

    def unfaulted(self) -> bool:
        """No fault rule armed in the market's plan."""
        return not self._market.faults.rules()
