"""EC-001: a broker read that times out is retried with backoff (3 tries in all), each
failure is logged at ERROR with its error type, and after the last try the poll is given up
(BrokerCallFailedEvent) while the next poll works again."""

from __future__ import annotations

from datetime import datetime

import pytest

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.errors import WorkerError
from tradefleet.worker.retry import BrokerReadFailed, BrokerReadRetry

AT = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


def make_market() -> tuple[SimBroker, SimMarket]:
    market = SimMarket(5, n_symbols=20, clock=FrozenClock(AT))
    return SimBroker(market), market


def failure_lines(logs) -> list[dict]:
    return [r for r in logs.records if r.get("event") == "broker call failed"]


async def test_three_timeouts_give_up_the_poll_then_next_poll_recovers(db, sink, logs) -> None:
    broker, market = make_market()
    symbols = market.symbols()
    market.faults.set("get_quotes", "timeout", count=3)
    retry = BrokerReadRetry(sink, worker_id="w-ec1", base_delay=0.001, max_delay=0.002)

    with pytest.raises(BrokerReadFailed) as info:
        await retry.call("get_quotes", lambda: broker.get_quotes(symbols))
    assert isinstance(info.value, WorkerError)

    lines = failure_lines(logs)
    assert [r["attempt"] for r in lines] == [1, 2, 3]
    assert {r["level"] for r in lines} == {"error"}
    assert {r["error_type"] for r in lines} == {"BrokerTimeout"}
    assert [r["will_retry"] for r in lines] == [True, True, False]

    rows = await db.pool.fetch(
        "SELECT worker_id, payload FROM events WHERE event_type = 'BrokerCallFailedEvent'")
    assert len(rows) == 1
    assert rows[0]["worker_id"] == "w-ec1"
    assert rows[0]["payload"]["operation"] == "get_quotes"
    assert rows[0]["payload"]["error_type"] == "BrokerTimeout"
    assert rows[0]["payload"]["attempts"] == 3

    quotes = await retry.call("get_quotes", lambda: broker.get_quotes(symbols))
    assert set(quotes) == set(symbols)
    assert len(failure_lines(logs)) == 3


async def test_two_timeouts_then_success_returns_the_quotes(db, sink, logs) -> None:
    broker, market = make_market()
    symbols = market.symbols()
    market.faults.set("get_quotes", "timeout", count=2)
    retry = BrokerReadRetry(sink, worker_id="w-ec1b", base_delay=0.001, max_delay=0.002)

    quotes = await retry.call("get_quotes", lambda: broker.get_quotes(symbols))

    assert set(quotes) == set(symbols)
    assert [r["attempt"] for r in failure_lines(logs)] == [1, 2]
    count = await db.pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'BrokerCallFailedEvent'")
    assert count == 0


async def test_rejections_are_not_retried(db, sink, logs) -> None:
    """Only transient read failures are retried; anything else surfaces at once."""
    broker, market = make_market()
    unknown = "999999"           # simulator codes end in 0: the broker refuses it (APBK0656)
    assert unknown not in market.symbols()
    retry = BrokerReadRetry(sink, base_delay=0.001)
    calls = 0

    async def read():
        nonlocal calls
        calls += 1
        return await broker.get_minute_bars(unknown, 5)

    with pytest.raises(WorkerError):
        await retry.call("get_minute_bars", read)
    assert calls == 1


async def test_worker_poll_survives_timeouts_stays_scan_and_next_poll_scans(db, logs):
    from tests.scenarios.harness import build

    rig = await build(db, worker_id="w-ec1c")
    rig.market.faults.set("get_quotes", "timeout", count=3)

    await rig.cycle.poll()                          # three tries fail: poll given up

    assert rig.cycle.status.value == "SCAN"
    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'w-ec1c'") == "SCAN"
    assert await db.pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'CandidateScannedEvent'") == 0
    assert any(r.get("event") == "poll abandoned after broker failure; waiting for next poll"
               and r["level"] == "error" for r in logs.records)

    rig.clock.advance(60)
    await rig.cycle.poll()                          # the next poll works again
    assert await db.pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'CandidateScannedEvent'") == 1
    assert len(failure_lines(logs)) == 3
