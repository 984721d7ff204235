"""ScanService: one poll of the candidate search (spec SC-002).

Quotes for the whole universe come in one batched call; only symbols that pass the cheap
pre-filters cost a minute-bar request each (bounded concurrency, since the broker is rate
limited). Filters and the strategy run vectorised over all symbols at once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
import structlog
from opentelemetry import trace

from tradefleet.domain.events import CandidateScannedEvent
from tradefleet.domain.filters import FilterParams, apply_prefilters
from tradefleet.domain.krx import tick_size
from tradefleet.domain.market import Bar, Quote
from tradefleet.domain.strategies.base import StrategyFailed
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.candidate_store import CandidateRow, CandidateStore
from tradefleet.ports.events import EventSink
from tradefleet.services.shared_scan import SharedScans

_tracer = trace.get_tracer("tradefleet.scan")

T = TypeVar("T")
Reader = Callable[[str, Callable[[], Awaitable[T]]], Awaitable[T]]
INSUFFICIENT_BARS = "insufficient_bars"
ONE_MINUTE = timedelta(minutes=1)
# Bars are fetched after the quotes, so the newest of them may postdate the quote and be
# dropped as not yet closed. Live the gap is well under a minute; in a compressed simulation
# it is the scan's latency times the speed (50 ms at 1200x is a simulated minute), and with
# no spare bars every symbol came out "insufficient_bars" on a busy machine (the demo's
# zero-trade days). Spare bars cost no call: a KIS page holds 30.
SPARE_BARS = 9


@dataclass(frozen=True, slots=True)
class RankedCandidate:
    symbol: str
    price: int
    score: float
    quote: Quote


@dataclass(frozen=True, slots=True)
class ScanResult:
    scan_id: uuid.UUID
    universe_size: int
    passed_filters: int
    ranked: list[RankedCandidate]          # signalled symbols, best score first
    filter_rejections: dict[str, int]
    duration_ms: float


_QUOTE_FIELDS = tuple(f.name for f in fields(Quote))


def _quote_to_json(q: Quote) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(q, name) for name in _QUOTE_FIELDS}
    data["change_rate"] = str(q.change_rate)
    data["at"] = q.at.isoformat()
    return data


def _quote_from_json(data: dict[str, Any]) -> Quote:
    values = {name: data[name] for name in _QUOTE_FIELDS}
    values["change_rate"] = Decimal(values["change_rate"])
    values["at"] = datetime.fromisoformat(values["at"])
    return Quote(**values)


def result_to_json(result: ScanResult) -> dict[str, Any]:
    return {"scan_id": str(result.scan_id), "universe_size": result.universe_size,
            "passed_filters": result.passed_filters,
            "ranked": [{"symbol": c.symbol, "price": c.price, "score": c.score,
                        "quote": _quote_to_json(c.quote)} for c in result.ranked],
            "filter_rejections": result.filter_rejections, "duration_ms": result.duration_ms}


def result_from_json(data: dict[str, Any]) -> ScanResult:
    return ScanResult(
        uuid.UUID(data["scan_id"]), int(data["universe_size"]), int(data["passed_filters"]),
        [RankedCandidate(c["symbol"], int(c["price"]), float(c["score"]),
                         _quote_from_json(c["quote"])) for c in data["ranked"]],
        {k: int(v) for k, v in data["filter_rejections"].items()}, float(data["duration_ms"]))


async def _direct(_operation: str, fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


def spread_ticks(quote: Quote) -> int | None:
    if quote.ask <= 0 or quote.bid <= 0:
        return None
    return max(0, -((quote.bid - quote.ask) // tick_size(quote.bid)))   # ceiling, as filters


def closed_bars(bars: Sequence[Bar], quote: Quote) -> list[Bar]:
    """Bars whose minute has ended by the quote's time: the strategy compares the price
    with *completed* candles, and the running minute's close is the price itself.
    (``start <= at - 1 min`` is ``start + 1 min <= at`` for aware times of a zone without
    DST, Asia/Seoul's since 1988: one subtraction instead of an addition per bar.)"""
    ended_by = quote.at - ONE_MINUTE
    return [b for b in bars if b.start <= ended_by]


def _json_value(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else round(number, 4)


def _json_column(values: np.ndarray, n: int) -> list[Any]:
    """``[_json_value(values[k]) for k in range(n)]``, a numeric column at a time: numpy's
    ``tolist`` gives the same Python bool, int or float as ``bool()``/``int()``/``float()``
    of each element. Anything else (another dtype or shape, too short) goes element by
    element, raising as that would."""
    if values.ndim == 1 and values.shape[0] >= n:
        kind = values.dtype.kind
        if kind in "biu":
            return values[:n].tolist()
        if kind == "f" and values.dtype.itemsize <= 8:    # a longdouble stays numpy
            return [None if math.isnan(x) or math.isinf(x) else round(x, 4)
                    for x in values[:n].tolist()]
    return [_json_value(values[k]) for k in range(n)]


class ScanService:
    def __init__(self, broker: BrokerPort, store: CandidateStore, sink: EventSink,
                 strategy: Any, filters: FilterParams, *, worker_id: str,
                 read: Reader | None = None, bar_concurrency: int = 8,
                 shared: SharedScans | None = None, account_key: str = "") -> None:
        """``read(operation, fn)`` wraps every broker read (the worker passes its retry
        policy); ``strategy`` is a ``domain.strategies`` Strategy. ``shared``: the account's
        shared scans (``account_key`` scopes them): the ranking is then computed by one
        worker per quote window and read by the others with the same scan."""
        if bar_concurrency < 1:
            raise ValueError("bar_concurrency: must be >= 1")
        self._broker = broker
        self._store = store
        self._sink = sink
        self._strategy = strategy
        self._filters = filters
        self._worker_id = worker_id
        self._read: Reader = read or _direct
        self._bar_slots = asyncio.Semaphore(bar_concurrency)
        self._shared = shared
        self._account_key = account_key
        self._log = structlog.get_logger("tradefleet.scan").bind(worker_id=worker_id)

    def scan_key(self, universe: Sequence[str]) -> str:
        """Who may share a scan: same account, universe, strategy and parameter version,
        filters and bar count. Anything else differing gives a different key."""
        f = self._filters
        spec = json.dumps([sorted(universe), self._strategy.name,
                           self._strategy.strategy_version, self._strategy.param_version,
                           [f.min_volume, f.min_traded_value, f.max_spread_ticks],
                           int(self._strategy.bars_needed), SPARE_BARS])
        digest = hashlib.sha256(spec.encode()).hexdigest()[:32]
        return f"{self._account_key}:{digest}"

    async def scan(self, universe: Sequence[str], trading_day: date) -> ScanResult:
        """Fetch, filter, evaluate, store and announce one scan. Broker read failures
        propagate (the caller waits for the next poll)."""
        with _tracer.start_as_current_span("scan.cycle", attributes={
                "worker_id": self._worker_id, "universe_size": len(universe)}) as span:
            result = await self._scan(universe, trading_day)
            span.set_attribute("passed_filters", result.passed_filters)
            span.set_attribute("signals", len(result.ranked))
            return result

    async def _scan(self, universe: Sequence[str], trading_day: date) -> ScanResult:
        cpu = time.process_time()
        started = time.perf_counter()
        if self._shared is None:
            result, computed = await self._compute(universe, trading_day), True
        else:
            async def compute() -> dict[str, Any]:
                return result_to_json(await self._compute(universe, trading_day))

            data, computed = await self._shared.get_or_compute(self.scan_key(universe),
                                                               compute)
            result = result_from_json(data)
        duration_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - cpu) * 1000
        self._log.info("scan filter results", scan_id=str(result.scan_id),
                       passed_filters=result.passed_filters, shared=not computed,
                       filter_rejections=result.filter_rejections)
        await self._sink.publish(CandidateScannedEvent(
            worker_id=self._worker_id, scan_id=str(result.scan_id),
            universe_size=result.universe_size, passed_filters=result.passed_filters,
            signals=len(result.ranked), candidates=[c.symbol for c in result.ranked],
            filter_rejections=result.filter_rejections, duration_ms=round(duration_ms, 3),
            shared=not computed, cpu_ms=round(cpu_ms, 3)))
        return result

    async def _compute(self, universe: Sequence[str], trading_day: date) -> ScanResult:
        """Fetch, filter, evaluate and store one scan (this worker's own computation)."""
        started = time.perf_counter()
        scan_id = uuid.uuid4()
        self._log.info("scan poll started", scan_id=str(scan_id), universe_size=len(universe))
        passed, rejections, signal, score, indicators = await self._ranking(universe)
        ranked = sorted(
            (RankedCandidate(q.symbol, q.price, float(score[i]), q)
             for i, q in enumerate(passed) if signal[i]),
            key=lambda c: (-c.score, c.symbol))
        await self._save(scan_id, trading_day, passed, signal, indicators)
        return ScanResult(scan_id, len(universe), len(passed), ranked, dict(rejections),
                          (time.perf_counter() - started) * 1000)

    async def _ranking(self, universe: Sequence[str]) -> tuple[
            list[Quote], Counter[str], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """The scan's reads and judgement, nothing stored: the quotes that passed the
        pre-filters, the rejections, and the strategy's signal, score and indicators."""
        quotes_by_symbol = await self._read(
            "get_quotes", lambda: self._broker.get_quotes(list(universe)))
        quotes = [quotes_by_symbol[s] for s in universe
                  if s in quotes_by_symbol and quotes_by_symbol[s].price > 0]
        passed_idx, rejections = self.prefilter(quotes)
        passed = [quotes[i] for i in passed_idx]
        bars = await self._fetch_bars([q.symbol for q in passed])
        signal, score, indicators, usable = self.evaluate(passed, bars)
        for ok in usable:
            if not ok:
                rejections[INSUFFICIENT_BARS] += 1
        return passed, rejections, signal, score, indicators

    def prefilter(self, quotes: Sequence[Quote]) -> tuple[list[int], Counter[str]]:
        if not quotes:
            return [], Counter()
        outcome = apply_prefilters(quotes, self._filters)
        rejections: Counter[str] = Counter()
        for reasons in outcome.rejected_by:
            rejections.update(reasons)
        return [int(i) for i in np.flatnonzero(outcome.passed)], rejections

    def evaluate(self, quotes: Sequence[Quote], bars: dict[str, list[Bar]]
                 ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], np.ndarray]:
        """Run the strategy on the symbols that have enough bars; the rest get no signal.
        Anything the strategy raises, or a malformed result, is StrategyFailed."""
        n = len(quotes)
        need = int(self._strategy.bars_needed)
        closed = {q.symbol: closed_bars(bars.get(q.symbol, []), q) for q in quotes}
        usable = np.array([len(closed[q.symbol]) >= need for q in quotes], dtype=bool)
        signal = np.zeros(n, dtype=bool)
        score = np.zeros(n, dtype=float)
        indicators: list[dict[str, Any]] = [{} for _ in range(n)]
        rows = np.flatnonzero(usable)
        if rows.size == 0:
            return signal, score, indicators, usable
        closes = np.empty((rows.size, need), dtype=np.int64)
        volumes = np.empty((rows.size, need), dtype=np.int64)
        for k, i in enumerate(rows):
            tail = closed[quotes[i].symbol][-need:]
            closes[k] = [b.close for b in tail]
            volumes[k] = [b.volume for b in tail]
        prices = np.array([quotes[i].price for i in rows], dtype=np.int64)
        try:    # the strategy is the user's code: whatever it raises is its own failure
            result = self._strategy.evaluate(closes, volumes, prices)
            got_signal = np.asarray(result.signal, dtype=bool)
            got_score = np.asarray(result.score, dtype=float)
            if got_signal.shape != (rows.size,) or got_score.shape != (rows.size,):
                raise ValueError(f"signal and score must have one value per symbol "
                                 f"({rows.size}), got shapes {got_signal.shape} and "
                                 f"{got_score.shape}")
            for name, values in result.indicators.items():
                key = str(name)
                column = _json_column(np.asarray(values), rows.size)
                for k, i in enumerate(rows.tolist()):
                    indicators[i][key] = column[k]
        except Exception as exc:  # noqa: BLE001
            raise StrategyFailed(str(self._strategy.name), exc) from exc
        signal[rows] = got_signal
        score[rows] = got_score
        return signal, score, indicators, usable

    async def _fetch_bars(self, symbols: Sequence[str]) -> dict[str, list[Bar]]:
        count = int(self._strategy.bars_needed) + 1 + SPARE_BARS   # the running minute too

        async def one(symbol: str) -> tuple[str, list[Bar]]:
            async with self._bar_slots:
                return symbol, await self._read(
                    "get_minute_bars", lambda: self._broker.get_minute_bars(symbol, count))

        pairs = await asyncio.gather(*(one(s) for s in symbols))
        return dict(pairs)

    async def _save(self, scan_id: uuid.UUID, trading_day: date, passed: Sequence[Quote],
                    signal: np.ndarray, indicators: list[dict[str, Any]]) -> None:
        rows = [CandidateRow(q.symbol, q.price, q.volume, q.traded_value, q.change_rate,
                             spread_ticks(q), True, (), indicators[i], bool(signal[i]))
                for i, q in enumerate(passed)]
        await self._store.save_scan(
            scan_id=scan_id, worker_id=self._worker_id, trading_day=trading_day,
            strategy_name=self._strategy.name,
            strategy_version=self._strategy.strategy_version,
            param_version=self._strategy.param_version, rows=rows)
