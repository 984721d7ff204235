"""EC-001: a broker read that times out is retried with backoff (3 tries in all), each
failure is logged at ERROR with its error type, and after the last try the poll is given up
(BrokerCallFailedEvent) while the next poll works again.

검증: log (the timeout, each retry; ERROR with its type and stack trace), the worker stays in
SCAN and goes on working; a retry that succeeds lets the scan go on."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.scenarios.evidence import events, lines, worker_row
from tests.scenarios.harness import build

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


async def test_backoff_between_tries_grows_exponentially(db, sink, logs) -> None:
    """The waits are at least base, 2 x base (tenacity's exponential wait): read from the
    timestamps of the failure lines (lower bounds only: a loaded machine waits longer)."""
    broker, market = make_market()
    market.faults.set("get_quotes", "timeout", count=3)
    retry = BrokerReadRetry(sink, worker_id="w-ec1d", base_delay=0.1, max_delay=1.0)
    with pytest.raises(BrokerReadFailed):
        await retry.call("get_quotes", lambda: broker.get_quotes(market.symbols()))
    stamps = [datetime.fromisoformat(r["ts"]) for r in failure_lines(logs)]
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(gaps) == 2 and gaps[0] >= 0.1 and gaps[1] >= 0.2


async def test_worker_poll_gives_up_after_three_timeouts_stays_scan_then_scans(db, logs):
    rig = await build(db, worker_id="w-ec1c")
    rig.market.faults.set("get_quotes", "timeout", count=3)

    await rig.step()                                 # three tries fail: the poll is given up

    assert rig.cycle.status.value == "SCAN"
    assert (await worker_row(db, "w-ec1c"))["status"] == "SCAN"
    assert await events(db, "CandidateScannedEvent") == []
    [failed] = await events(db, "BrokerCallFailedEvent", worker_id="w-ec1c")
    assert (failed["operation"], failed["error_type"], failed["attempts"]) == \
        ("get_quotes", "BrokerTimeout", 3)
    tries = [r for r in failure_lines(logs) if r["worker_id"] == "w-ec1c"]
    assert [r["attempt"] for r in tries] == [1, 2, 3]
    for r in tries:                                  # §6.1 ERROR, §6.2 type and stack trace
        assert r["level"] == "error" and r["error_type"] == "BrokerTimeout"
        assert "Traceback" in r["stack"] and "BrokerTimeout" in r["stack"]
    [gave_up] = lines(logs, event="poll abandoned after broker failure; waiting for next poll",
                      worker_id="w-ec1c")
    assert gave_up["level"] == "error" and gave_up["status"] == "SCAN"
    assert gave_up["error_type"] == "BrokerReadFailed" and "Traceback" in gave_up["stack"]
    assert [r["level"] for r in logs.of("BrokerCallFailedEvent")] == ["error"]

    await rig.step()                                 # the next poll works again
    assert len(await events(db, "CandidateScannedEvent", worker_id="w-ec1c")) == 1
    assert len(failure_lines(logs)) == 3


async def test_worker_poll_whose_retry_succeeds_goes_on_scanning(db, logs):
    rig = await build(db, worker_id="w-ec1e")
    rig.market.faults.set("get_quotes", "timeout", count=2)

    await rig.step()

    assert [r["attempt"] for r in failure_lines(logs)] == [1, 2]
    assert await events(db, "BrokerCallFailedEvent") == []
    assert len(await events(db, "CandidateScannedEvent", worker_id="w-ec1e")) == 1
    assert rig.cycle.status.value in ("SCAN", "HOLD")      # scanned, and maybe bought
