"""A recorded day as the simulator's tape and universe: the first brick of the replay
exchange (issue 21, item 2).

The exchange simulator (``adapters/sim/engine.SimMarket``) matches orders against two
things: its ``Universe`` (limits, spread in ticks, book depth, markets) and its ``Tape``
(price, day volume and value, open/high/low, today's minute bars, stepped every 10 s). Built
from a recorded day, these two give a replay exchange the simulator's own partial-fill and
slippage model over recorded prices, with no second copy of the matching. The step is the
simulator's (10 s): the state after step k is the last quote recorded at or before
``open + k * 10 s``; a day recorded from the simulator every 10 s (``sim_source``) is
therefore the simulator's tape step for step (tested), which is what the parity check of
issue 21 needs. The running minute's bar is built step by step as the simulator builds it,
never from the finished bar (no look-ahead).

Left for the runner: ``SimMarket`` taking a universe and a tape instead of building them
from a seed (a constructor change in the engine), and a depth model for days recorded
without book levels (KIS quotes give the top of the book only; ``default_depth`` here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from tradefleet.adapters.sim import ticks
from tradefleet.adapters.sim.universe import STEP_SECONDS, Universe
from tradefleet.domain.errors import ConfigError
from tradefleet.replay.day_format import RecordedDay

STEPS_PER_MINUTE = 60 // STEP_SECONDS
_STEP_MS = STEP_SECONDS * 1000
MAX_SPREAD_TICKS = 50


class RecordedTape:
    """The ``Tape`` interface (``steps``, ``step()``, ``minutes_started()`` and the arrays
    the engine reads) over a recorded day's quotes, in ``symbols`` order."""

    def __init__(self, day: RecordedDay, symbols: Sequence[str]) -> None:
        q = day.quotes
        if q is None or not len(q["at"]):
            raise ConfigError(f"{day.meta.day}: no quotes recorded; replay needs them")
        open_ms = int(day.meta.session_open.timestamp() * 1000)
        n_steps = int((day.meta.session_close - day.meta.session_open).total_seconds()
                      ) // STEP_SECONDS
        index = {s: i for i, s in enumerate(symbols)}
        cols = np.array([index.get(str(s), -1) for s in q["symbol"]], dtype=np.int64)
        step_of = (q["at"] - open_ms) // _STEP_MS
        keep = (cols >= 0) & (step_of >= 0) & (step_of <= n_steps)
        missing = sorted(set(symbols) - {str(s) for s in q["symbol"][keep]})
        if missing:
            raise ConfigError(f"{day.meta.day}: no quotes for {missing[:5]}")
        shape = (n_steps + 1, len(symbols))
        self._state = {name: np.full(shape, -1, dtype=np.int64)
                       for name in ("price", "volume", "traded_value", "open", "high", "low")}
        order = np.argsort(q["at"][keep], kind="stable")       # later rows win a step
        rows, c, k = np.flatnonzero(keep)[order], cols[keep][order], step_of[keep][order]
        for name, grid in self._state.items():
            grid[k, c] = q[name][rows]
        for grid in self._state.values():                      # carry the last quote on
            first = grid[0]
            if (first < 0).any():
                raise ConfigError(f"{day.meta.day}: a symbol has no quote at the open "
                                  f"({day.meta.session_open:%H:%M:%S}); replay starts there")
            for step in range(1, grid.shape[0]):
                holes = grid[step] < 0
                grid[step, holes] = grid[step - 1, holes]
        n_minutes = -(-n_steps // STEPS_PER_MINUTE)
        self.steps = 0
        self._set(0)
        minute_shape = (n_minutes, len(symbols))
        self.bar_open = np.zeros(minute_shape, dtype=np.int32)
        self.bar_high = np.zeros(minute_shape, dtype=np.int32)
        self.bar_low = np.zeros(minute_shape, dtype=np.int32)
        self.bar_close = np.zeros(minute_shape, dtype=np.int32)
        self.bar_volume = np.zeros(minute_shape, dtype=np.int32)
        self.bar_value = np.zeros(minute_shape, dtype=np.int64)
        self.open = np.zeros(len(symbols), dtype=np.int64)     # 0 until the first step
        self.last_step = n_steps

    def _set(self, k: int) -> None:
        s = self._state
        self.price = s["price"][k].copy()
        self.volume = s["volume"][k].copy()
        self.traded_value = s["traded_value"][k].copy()
        self.high = s["high"][k].copy()
        self.low = s["low"][k].copy()

    def step(self) -> None:
        """Advance one step, building the running minute's bar as the simulator does."""
        if self.steps >= self.last_step:
            raise ValueError("the recorded day has no step after the close")
        minute, sub = divmod(self.steps, STEPS_PER_MINUTE)
        before_volume, before_value = self.volume, self.traded_value
        self.steps += 1
        self._set(self.steps)
        self.open = self._state["open"][self.steps].copy()
        price = self.price
        vol = self.volume - before_volume
        if sub == 0:
            self.bar_open[minute] = price
            self.bar_high[minute] = price
            self.bar_low[minute] = price
        else:
            np.maximum(self.bar_high[minute], price, out=self.bar_high[minute])
            np.minimum(self.bar_low[minute], price, out=self.bar_low[minute])
        self.bar_close[minute] = price
        self.bar_volume[minute] += vol.astype(np.int32)
        self.bar_value[minute] += self.traded_value - before_value

    def minutes_started(self) -> int:
        return -(-self.steps // STEPS_PER_MINUTE)


def recorded_universe(day: RecordedDay, *, default_depth: int | None = None,
                      unknown_market: str | None = None) -> Universe:
    """The simulator's universe of a recorded day: limits and previous day from the quotes,
    the spread in ticks from the first two-sided quote, the depth from the first book level
    (``default_depth`` when the day has no book levels), each symbol's market from the
    meta (``unknown_market`` where it says none; its sell tax is charged). The random-walk
    fields are zero: a recorded tape does not walk."""
    q = day.quotes
    if q is None:
        raise ConfigError(f"{day.meta.day}: no quotes recorded; replay needs them")
    symbols = tuple(sorted(day.meta.symbols))
    n = len(symbols)
    first = {}
    for i in range(len(q["at"]) - 1, -1, -1):       # the earliest row of each symbol wins
        first[str(q["symbol"][i])] = i
    two_sided: dict[str, int] = {}
    for i in range(len(q["at"])):
        s = str(q["symbol"][i])
        if s not in two_sided and q["ask"][i] > 0 and q["bid"][i] > 0:
            two_sided[s] = i

    def column(name: str, rows: dict[str, int]) -> np.ndarray:
        return np.array([int(q[name][rows[s]]) for s in symbols], dtype=np.int64)

    lacking = [s for s in symbols if s not in first or s not in two_sided]
    if lacking:
        raise ConfigError(f"{day.meta.day}: no two-sided quote for {lacking[:5]}")
    bid, ask = column("bid", two_sided), column("ask", two_sided)
    spread = np.zeros(n, dtype=np.int64)
    stepped = bid.copy()
    for count in range(1, MAX_SPREAD_TICKS + 1):
        stepped = ticks.step_ticks(stepped, 1)
        spread = np.where((spread == 0) & (stepped == ask), count, spread)
    if day.meta.book_levels:
        depth = np.maximum(column("ask_qty_1", two_sided), column("bid_qty_1", two_sided))
    elif default_depth is not None:
        depth = np.full(n, default_depth, dtype=np.int64)
    else:
        raise ConfigError(f"{day.meta.day}: recorded without book levels; give a depth")
    zeros = np.zeros(n)
    unnamed = [s for s in symbols if not day.meta.symbols[s]]
    if unnamed and unknown_market is None:
        raise ConfigError(f"{day.meta.day}: no market recorded for {unnamed[:5]}; name one "
                          "(backtest --unknown-market)")
    markets = tuple(day.meta.symbols[s] or str(unknown_market) for s in symbols)
    return Universe(symbols, column("prev_close", first), column("prev_high", first),
                    column("prev_low", first), column("lower_limit", first),
                    column("upper_limit", first), zeros, zeros, np.zeros(n, dtype=np.int64),
                    zeros, depth, np.maximum(spread, 1), np.zeros(n, dtype=bool), markets)


def step_time(day: RecordedDay, k: int) -> datetime:
    """When step ``k`` of the day happens."""
    from datetime import timedelta

    return day.meta.session_open + timedelta(seconds=k * STEP_SECONDS)
