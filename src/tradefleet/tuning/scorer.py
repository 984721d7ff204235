"""How a parameter draw is judged on a day: the strategy's own ``evaluate`` over the day's
minute bars, as one worker trades (one position at a time, the best-scoring signal first),
with the strategy's exits (stop-loss, then take-profit on the minute's low/high; the time
exit and the forced liquidation at the close of their minute) and KRX costs.

This is a bar-level model, not the full replay (``tradefleet backtest`` runs the worker
itself): it trades at the minute's open, with no book, no partial fills, no trend-break
exit. It costs ~1/1000 of a replay, which is what lets a search try hundreds of draws; the
chosen version can then be replayed with ``tradefleet backtest --params``. The score of a
set of days is the mean, per day, of the summed net trade returns (fractions of the entry
amount, after fees and the highest sell tax)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from tradefleet.domain.costs import KRX_SELL_TAX_RATES
from tradefleet.domain.exits import ExitParams
from tradefleet.tuning.day_bars import DayBars

MAX_SELL_TAX = float(max(r.transaction + r.rural_special for r in KRX_SELL_TAX_RATES.values()))


@dataclass(frozen=True, slots=True)
class Rules:
    """What the settings decide around the strategy (risk and cost sections)."""

    liquidation_offset_minutes: int = 15
    entry_cutoff_minutes: int = 10
    buy_commission_rate: Decimal = Decimal("0.00015")
    sell_commission_rate: Decimal = Decimal("0.00015")

    @property
    def round_trip_cost(self) -> float:
        return float(self.buy_commission_rate + self.sell_commission_rate) + MAX_SELL_TAX


@dataclass(frozen=True, slots=True)
class DayScore:
    returns: tuple[float, ...]      # net return per trade, in order

    @property
    def total(self) -> float:
        return float(sum(self.returns))


def score_day(strategy: object, exits: ExitParams, bars: DayBars, rules: Rules,
              avoid: Collection[str] = ()) -> DayScore:
    """One worker's trades of ``bars``' day under ``strategy`` (see module docstring).
    ``avoid``: symbols never bought (the SC-011 thin-book list)."""
    need = int(strategy.bars_needed)
    liq = bars.minutes - rules.liquidation_offset_minutes      # the liquidation minute
    last_entry = liq - rules.entry_cutoff_minutes
    time_exit = liq - exits.time_exit_minutes
    stop, take = float(exits.stop_loss_pct) / 100, float(exits.take_profit_pct) / 100
    allowed = np.array([s not in avoid for s in bars.symbols])
    returns: list[float] = []
    t = need
    while t < last_entry:
        rows = np.flatnonzero(allowed & ~np.isnan(bars.close[:, t - need]))
        if not len(rows):
            t += 1
            continue
        result = strategy.evaluate(bars.close[rows, t - need:t], bars.volume[rows, t - need:t],
                                   bars.open[rows, t])
        ok = np.asarray(result.signal, dtype=bool) & np.isfinite(result.score)
        if not ok.any():
            t += 1
            continue
        best = rows[np.flatnonzero(ok)[np.argmax(np.asarray(result.score)[ok])]]
        exit_at, exit_price = _exit(bars, best, t, bars.open[best, t], stop, take,
                                    min(time_exit, liq))
        returns.append(exit_price / bars.open[best, t] - 1.0 - rules.round_trip_cost)
        t = exit_at + 1
    return DayScore(tuple(returns))


def _exit(bars: DayBars, row: int, t: int, entry: float, stop: float, take: float,
          last: int) -> tuple[int, float]:
    """The minute and price a position bought at ``t`` is sold: the first stop or target
    touched (the stop first within a minute: the cautious reading), else at ``last``."""
    last = max(last, t)
    low, high = bars.low[row, t:last], bars.high[row, t:last]
    stop_px, take_px = entry * (1 - stop), entry * (1 + take)
    hits = np.flatnonzero((low <= stop_px) | (high >= take_px))
    if len(hits):
        at = t + int(hits[0])
        return at, stop_px if bars.low[row, at] <= stop_px else take_px
    at = min(last, bars.minutes - 1)
    return at, float(bars.close[row, at])


def score_days(strategy: object, exits: ExitParams, days: Sequence[DayBars], rules: Rules,
               avoid: Collection[str] = ()) -> tuple[float, int]:
    """(mean per-day net return, trades) over ``days``."""
    scores = [score_day(strategy, exits, d, rules, avoid) for d in days]
    trades = sum(len(s.returns) for s in scores)
    return (sum(s.total for s in scores) / len(scores) if scores else 0.0), trades
