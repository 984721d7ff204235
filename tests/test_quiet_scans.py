"""The replay's quiet scans (``replay.quiet_scans``): a worker's scan is answered with its
previous one only when that one ranked nothing, on the same market step, with no fault
rule armed then or now; each guard alone on a stand-in scan, and a fleet day that trades
the same with and without (the parity test, ``test_replay_runner``, compares a replay with
it to the simulated day without)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from tests.fleet_day_rig import same_trades_off_and_on

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.faults import FaultPlan
from tradefleet.domain.market import Quote
from tradefleet.domain.strategies.base import StrategyFailed
from tradefleet.replay.quiet_scans import QuietScans
from tradefleet.services.scan_service import RankedCandidate, ScanResult

DAY = date(2026, 11, 24)
OPEN = datetime.combine(DAY, time(9, 0), tzinfo=SEOUL)


def _result(*symbols: str) -> ScanResult:
    """A scan's result ranking ``symbols`` (none: it found nothing to buy)."""
    ranked = [RankedCandidate(s, 1000, 1.0, Quote(s, 1000, 1, 1000, Decimal(0), 1000, 1000,
                                                  1000, 1000, 1000, 1000, 1001, 999, 1300,
                                                  700, OPEN)) for s in symbols]
    return ScanResult(uuid.uuid4(), 10, len(symbols), ranked, {}, 1.0)


class _Scanner:
    """A stand-in cycle whose scan answers what the test sets, counting its runs."""

    def __init__(self) -> None:
        self.answer: ScanResult | Exception = _result()
        self.runs = 0
        self._scan = self.scan

    async def scan(self, trading_day: date) -> ScanResult:
        self.runs += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _rig() -> tuple[FrozenClock, SimpleNamespace, QuietScans, _Scanner]:
    clock = FrozenClock(OPEN + timedelta(seconds=600))
    market = SimpleNamespace(clock=clock, open_at=OPEN, faults=FaultPlan(7))
    scans, cycle = QuietScans(market), _Scanner()
    scans.watch(cycle)
    return clock, market, scans, cycle


async def test_an_empty_scan_is_answered_again_only_on_its_own_market_step() -> None:
    clock, _, scans, cycle = _rig()
    first = await cycle._scan(DAY)
    clock.set(OPEN + timedelta(seconds=605))            # the same 10 s step
    assert await cycle._scan(DAY) is first
    assert cycle.runs == 1
    clock.set(OPEN + timedelta(seconds=610))            # the market stepped
    await cycle._scan(DAY)
    assert cycle.runs == 2
    assert scans.skipped == 1


async def test_a_scan_that_ranked_a_candidate_or_raised_runs_again_on_the_same_step() -> None:
    clock, _, scans, cycle = _rig()
    cycle.answer = _result("005930")
    await cycle._scan(DAY)
    clock.set(OPEN + timedelta(seconds=605))
    again = await cycle._scan(DAY)          # its quote's time is this poll's, not the last
    assert cycle.runs == 2 and again.ranked

    clock.set(OPEN + timedelta(seconds=620))
    cycle.answer = StrategyFailed("ma_breakout", "boom")
    with pytest.raises(StrategyFailed):
        await cycle._scan(DAY)
    clock.set(OPEN + timedelta(seconds=625))
    cycle.answer = _result()
    await cycle._scan(DAY)
    assert cycle.runs == 4 and scans.skipped == 0


async def test_no_scan_is_answered_while_a_fault_rule_is_armed_then_or_now() -> None:
    clock, market, scans, cycle = _rig()
    await cycle._scan(DAY)
    rule = market.faults.add("get_minute_bars", "timeout", count=1)
    clock.set(OPEN + timedelta(seconds=605))            # armed now
    await cycle._scan(DAY)
    assert cycle.runs == 2

    clock.set(OPEN + timedelta(seconds=610))            # armed at the scan before
    await cycle._scan(DAY)
    market.faults.remove(rule)
    clock.set(OPEN + timedelta(seconds=615))
    await cycle._scan(DAY)
    assert cycle.runs == 4 and scans.skipped == 0


async def test_a_fleet_trades_the_same_with_its_quiet_scans_answered(pg_server_uri,
                                                                    fleet_day) -> None:  # noqa: ANN001
    await same_trades_off_and_on(pg_server_uri, fleet_day, "scans_skipped", quiet_scans=True)
