"""Replay-only: the scan's reads and judgement done once per clock time for the fleet's
workers that scan alike (issue 21, speed).

In a replayed fleet every worker without a position scans at each poll, and the fleet's
workers poll at the same clock time one after another: ten workers of one strategy read
the same quotes, the same minute bars (one task per symbol that passed the pre-filters)
and run the same strategy on them up to ten times a step. ``StepScans`` keeps the first
such worker's ``ScanService._ranking`` at this clock time (the quotes that passed the
pre-filters, the rejections, the strategy's signal, score and indicators) and hands it to
the next worker asking at the same time with the same scan; each worker still runs the
rest of its own scan: its scan id, its log lines, its candidate rows, its
``CandidateScannedEvent``, its ranking and entry. A worker is answered from the kept
ranking only when all of these hold:

1. the same clock time (``market.clock``, which the runner moves between steps and never
   during one): the market's reads at one time are the same numbers (``replay.step_reads``
   says why; they are already answered from one read there), and ``Quote.at``, the one
   time the scan reads (``closed_bars``), is that time;
2. the same universe in the same order (the quotes' order is the universe's) and the same
   ``ScanService.scan_key``: account, strategy name, strategy and parameter version,
   filters and bar count. Production's shared scans (``services.shared_scan``) hand one
   worker's ranking to another on that key alone; the strategy is pure by its contract
   (``domain.strategies.base``), so with the same inputs it gives the same result;
3. the scanner reads this market straight (its broker is the replay's ``MeteredBroker``
   over a ``SimBroker`` of this market), and no fault rule is armed in the market's fault
   plan, when the ranking was made nor now: a rule can fail a read or draw from its own
   random stream at each call, so a read left out would change what a later read meets.
   With no rule, a read neither fails nor suspends, and the retry wrapper around it
   records nothing on success (``BrokerReadRetry.call``);
4. the kept ranking was made without raising: a strategy that fails is run, and fails,
   for every worker as before.

And a scan that does read its bars reads them in turn (5.): ``ScanService._fetch_bars``
gathers one task per symbol that passed the pre-filters (eight reads at a time), which
costs a task, a semaphore and a loop turn per symbol. While no fault rule is armed, the
replay's bar read (``replay.bare_reads``) returns without suspending, so each task runs
to its end before the next starts, in the symbols' order: the same reads, in the same
order, as a loop over the symbols (and were they interleaved, reads at one clock time
change nothing and give the same numbers in any order: 1.). The loop reads through the
same ``_read`` and broker with the same bar count into a dict in the symbols' order, as
the gather's; under a fault rule the gather runs.

And (6.) where the fleet's reads are shared (``replay.step_reads``) and the scanner's
broker reads the market straight (``replay.bare_reads``), the loop of 5. is one
``StepReads.minute_bars_of`` call: with no fault rule the bare bar read is the memo's
``minute_bars`` (nothing metered, nothing fault-checked), the worker's retry
(``BrokerReadRetry.call``) runs a read once and hands back its answer, so what is left out
is a coroutine, the retry's call and the bare read's per symbol, and the market's advance
per symbol (once for the lot: ``minute_bars_of`` says why that is the same). The bare
reads' count is kept as the loop would have counted.

Left out for the workers answered: their scan's market reads (which change nothing in the
market: a read computes from the tape at the clock's time) and the strategy's run. The
kept lists, arrays and counter are copied for each worker, so no worker's scan can change
another's. Trades, fills, candidate rows and events are unchanged but for the event's
wall-time fields (``duration_ms``, ``cpu_ms``) (``tests/test_step_scans.py``; the parity
test replays with it against the simulated day without). Live workers never use this: it
wraps scanners inside ``replay.runner`` only."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Any

from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.telemetry.metered_broker import MeteredBroker
from tradefleet.replay.bare_reads import BareReads
from tradefleet.replay.step_reads import StepReads
from tradefleet.services.scan_service import SPARE_BARS, ScanService
from tradefleet.worker.retry import BrokerReadRetry


class StepScans:
    """The fleet's scan rankings at the clock's current time, one per scan alike."""

    def __init__(self, market: Any, *, reads: StepReads | None = None,
                 bare: BareReads | None = None) -> None:
        """``reads`` and ``bare``: the fleet's ``StepReads`` memo over ``market`` and its
        ``BareReads``, where the runner has them on (6.)."""
        self._market = market
        self._reads = reads
        self._bare = bare
        self._at: Any = None
        self._kept: dict[tuple, tuple] = {}
        self.served = 0                 # rankings handed to a worker from the kept one
        self.unwatched = 0              # scanners left as they were
        self.bars_in_turn = 0           # scans whose bars were read in turn
        self.bars_at_once = 0           # and of those, read as one (6.)

    def unfaulted(self) -> bool:
        """No rule at all in the market's fault plan (3.)."""
        return not self._market.faults.rules()

    def watch(self, cycle: Any) -> None:
        """Put the kept rankings in front of ``cycle``'s scanner, when it is a
        ``ScanService`` reading this market through the replay's own broker stack."""
        scan = cycle._scan
        scanner = getattr(getattr(scan, "func", None), "__self__", None)
        broker = getattr(scanner, "_broker", None)
        inner = getattr(broker, "_inner", None)
        if type(scan) is not partial or type(scanner) is not ScanService \
                or type(broker) is not MeteredBroker or type(inner) is not SimBroker \
                or inner.market is not self._market:
            self.unwatched += 1
            return
        own = scanner._ranking

        async def ranking(universe: Any) -> Any:
            now = self._market.clock.now()
            if now != self._at:
                self._at, self._kept = now, {}
            key = (tuple(universe), scanner.scan_key(universe))
            kept = self._kept.get(key)
            if kept is not None and self.unfaulted():
                self.served += 1
                return _copy(kept)
            clean = self.unfaulted()
            made = await own(universe)
            if clean and self.unfaulted() and self._market.clock.now() == now:
                self._kept[key] = _copy(made)
            return made

        scanner._ranking = ranking
        scanner._fetch_bars = self._bars_in_turn(scanner, scanner._fetch_bars)

    def _bars_in_turn(self, scanner: ScanService, usual: Any) -> Any:
        """``scanner``'s bar reads one after another in the symbols' order, without a
        task per symbol, while no fault rule is armed (5.)."""

        async def fetch_bars(symbols: Any) -> dict[str, Any]:
            if not self.unfaulted():
                return await usual(symbols)
            count = int(scanner._strategy.bars_needed) + 1 + SPARE_BARS
            read, broker, bars = scanner._read, scanner._broker, {}
            if self._all_at_once(read, broker):         # 6.
                bars = self._reads.minute_bars_of(list(symbols), count)
                self._bare.served += len(bars)
                self.bars_at_once += 1
                return bars
            for symbol in symbols:
                bars[symbol] = await read("get_minute_bars", partial(
                    broker.get_minute_bars, symbol, count))
            self.bars_in_turn += 1
            return bars

        return fetch_bars

    def _all_at_once(self, read: Any, broker: Any) -> bool:
        """Whether a scan's bar reads may be one ``StepReads.minute_bars_of`` (6.): the
        fleet's memo is on this market, the scanner's broker reads it straight
        (``BareReads``) and its ``_read`` is the worker's ``BrokerReadRetry``."""
        return (self._reads is not None and self._bare is not None
                and self._bare.reads_straight(broker)
                and type(getattr(read, "__self__", None)) is BrokerReadRetry)


def _copy(ranking: tuple) -> tuple:
    passed, rejections, signal, score, indicators = ranking
    return (list(passed), Counter(rejections), signal.copy(), score.copy(),
            [dict(d) for d in indicators])
