"""A worker whose token issuance is throttled (KIS: one a minute per appkey, EGW00133) at
start-up waits it out and then starts, instead of exiting into the same refusal."""

from __future__ import annotations

from dataclasses import replace

from tests.scenarios.harness import DAY_START

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.settings import load_settings
from tradefleet.worker.wiring import build_worker


async def test_throttled_token_at_start_up_is_waited_out_then_the_worker_registers(db, logs):
    clock = FrozenClock(DAY_START)
    market = SimMarket(7, n_symbols=10, clock=clock)
    rule = market.faults.add("authenticate", "rate_limit", count=2)
    settings = load_settings(None, {"TRADEFLEET_WORKER_ID": "w-token",
                                    "TRADEFLEET_RISK__CAPITAL_LIMIT": "1000000",
                                    "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "100000"})
    worker = build_worker(settings, db=db, broker=SimBroker(market), clock=clock,
                          universe=market.symbols())
    worker.config = replace(worker.config, auth_wait_cap_seconds=0.1)
    await worker.start()
    assert market.faults.fired_count(rule) == 2
    waits = [r for r in logs.records if r.get("event") ==
             "token issuance throttled; waiting before asking again"]
    assert len(waits) == 2 and all(r["level"] == "warning" for r in waits)
    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'w-token'") == "IDLE"
