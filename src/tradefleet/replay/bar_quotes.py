"""Quotes for a bars-only day (CSV-imported, ``csv_bars``), so that it can be replayed: the
replay exchange matches against quotes stepped every 10 s (``recorded_tape``), and a minute
bar says only where a minute opened, went and closed. The quotes are synthesised from the
bars, deterministically (no random numbers), as follows.

- Times: six quotes per bar, at 10, 20, ..., 60 s after its start: the six simulator steps
  whose states make up that minute's bar in the tape. One more per symbol at the session
  open, at its first bar's open price, with no volume yet.
- Path inside a minute: open, then the extreme nearer to the open's side first, then the
  other: ``O L L H H C`` when the bar closed at or above its open, ``O H H L L C`` when
  below. The replayed minute bar is therefore the CSV's bar (open, high, low, close and
  volume; tested), though a worker polling inside the minute sees a path the data never
  said.
- Volume: the minute's volume spread over its six quotes (``volume * j // 6`` after the
  j-th), accumulating over the day; traded value: each step's new shares at that step's
  price.
- Book: one level each side, the bid at the price and the ask one tick above it, each with
  the minute's volume per step (``volume // 6``, at least 1 share). The replay takes a
  symbol's depth from its first quote (``recorded_universe``).
- Previous day: a CSV has none, so the previous close (and high and low) is the day's first
  open, and the daily limits are KRX's +-30 % around it.

Minutes without a bar keep the last quote (the tape carries quotes on). The market of each
symbol is not in a CSV: a backtest names one for all (``--unknown-market``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tradefleet.adapters.sim import ticks
from tradefleet.replay.day_format import LEVEL_COLUMNS, RecordedDay

STEPS = 6                       # 10-second quotes per minute bar
STEP_MS = 10_000
SOURCE_SUFFIX = "+quotes:from-bars/1"


def with_bar_quotes(day: RecordedDay) -> RecordedDay:
    """``day`` with quotes synthesised from its bars (as the module says); a day that has
    quotes is returned as it is."""
    if day.quotes is not None:
        return day
    bars = day.bars
    open_ms = int(day.meta.session_open.timestamp() * 1000)
    parts: list[dict[str, np.ndarray]] = []
    for symbol in sorted({str(s) for s in bars["symbol"]}):
        rows = np.flatnonzero(bars["symbol"] == symbol)
        rows = rows[np.argsort(bars["start"][rows], kind="stable")]
        parts.append(_symbol_quotes(symbol, {k: v[rows] for k, v in bars.items()}, open_ms))
    quotes = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = np.lexsort((quotes["symbol"].astype(str), quotes["at"]))
    quotes = {name: values[order] for name, values in quotes.items()}
    meta = replace(day.meta, source=day.meta.source + SOURCE_SUFFIX,
                   quotes_every_s=STEP_MS / 1000, book_levels=1)
    return RecordedDay(meta, bars, quotes)


def _symbol_quotes(symbol: str, b: dict[str, np.ndarray], open_ms: int
                   ) -> dict[str, np.ndarray]:
    o, h, lo, c, v = (b[k].astype(np.int64) for k in ("open", "high", "low", "close",
                                                      "volume"))
    up = (c >= o)[:, None]
    first = np.where(up, lo[:, None], h[:, None])
    second = np.where(up, h[:, None], lo[:, None])
    path = np.hstack([o[:, None], first, first, second, second, c[:, None]])
    j = np.arange(1, STEPS + 1)
    cum_in_minute = v[:, None] * j // STEPS
    new = np.diff(np.hstack([np.zeros((len(v), 1), dtype=np.int64), cum_in_minute]), axis=1)
    before = np.concatenate([[0], np.cumsum(v)[:-1]])
    at = (b["start"][:, None] + STEP_MS * j).ravel()
    price = path.ravel()
    per_step = np.repeat(np.maximum(v // STEPS, 1), STEPS)
    volume = (before[:, None] + cum_in_minute).ravel()
    value = np.cumsum(new.ravel() * price)
    # the session's opening quote: the first open, nothing traded yet
    at = np.concatenate([[open_ms], at])
    price = np.concatenate([[o[0]], price])
    volume = np.concatenate([[0], volume])
    value = np.concatenate([[0], value])
    per_step = np.concatenate([[per_step[0]], per_step])
    prev = np.full(len(at), o[0], dtype=np.int64)
    lower, upper = ticks.limits(prev)
    ask = ticks.step_ticks(price, 1)
    out = {"at": at, "symbol": np.full(len(at), symbol, dtype=object), "price": price,
           "volume": volume, "traded_value": value,
           "change_bp": (price - prev) * 10_000 // prev,
           "open": prev,
           "high": np.maximum.accumulate(price), "low": np.minimum.accumulate(price),
           "prev_high": prev, "prev_low": prev, "prev_close": prev, "ask": ask, "bid": price,
           "upper_limit": upper, "lower_limit": lower}
    zeros = np.zeros(len(at), dtype=np.int64)
    out.update({name: zeros for name in LEVEL_COLUMNS})
    out.update({"ask_px_1": ask, "bid_px_1": price, "ask_qty_1": per_step,
                "bid_qty_1": per_step})
    return out
