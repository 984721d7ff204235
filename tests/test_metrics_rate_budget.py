"""Rate-budget waits and broker latency in the worker's metrics, with the fleet's KIS broker
(Postgres request budget) talking real HTTP to the exchange simulator: every request that
reached the gateway passed the budget once and was timed; a burst over the budget waited,
and the histogram's sum shows how long."""

from __future__ import annotations

import asyncio
from datetime import datetime

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.kis_harness import APPKEY, APPSECRET, DAY
from tests.scenarios.test_health import free_port

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.kis.fleet import build_fleet_kis_broker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import gateway_of, running_exchange
from tradefleet.adapters.sim.exchange.gateway import ExchangeConfig
from tradefleet.adapters.telemetry.metered_broker import MeteredBroker
from tradefleet.adapters.telemetry.metrics import WorkerMetrics

BURST = 6
PER_SECOND = 2


def samples(metrics: WorkerMetrics) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(metrics.render().decode())
            for s in f.samples}


async def test_a_burst_over_the_budget_waits_and_every_request_is_timed(db):
    clock = FrozenClock(datetime.combine(DAY, datetime.min.time().replace(hour=10),
                                         tzinfo=SEOUL))
    market = SimMarket(7, n_symbols=10, clock=clock)
    metrics = WorkerMetrics()
    async with running_exchange(market, ExchangeConfig(mode="real")) as (base_url, app), \
            aiohttp.ClientSession() as session:
        config = KisConfig(base_url=base_url, appkey=APPKEY, appsecret=APPSECRET,
                           cano="12345678", mode="real", timeout_seconds=5.0)
        inner = await build_fleet_kis_broker(config, session, db, clock,
                                             share_quotes_window=None,
                                             limit_per_second=PER_SECOND,
                                             on_budget_wait=metrics.budget_waited)
        broker = MeteredBroker(inner, metrics.broker_call)
        await broker.authenticate()
        symbol = market.symbols()[0]
        await asyncio.gather(*(broker.get_buyable_qty(symbol, None) for _ in range(BURST)))
        gateway = gateway_of(app)
        reached = sum(gateway._per_second.values()) + gateway.rate_limited
    got = samples(metrics)
    waits = got[("tradefleet_rate_budget_wait_seconds_count", frozenset())]
    assert waits == reached >= BURST
    # 2 a second: the 3rd and 4th wait about a second, the 5th and 6th about two
    assert got[("tradefleet_rate_budget_wait_seconds_sum", frozenset())] >= 3.0
    assert got[("tradefleet_rate_budget_refusals_total", frozenset())] == 0
    calls = ("tradefleet_broker_call_duration_seconds_count",
             frozenset({("operation", "get_buyable_qty"), ("outcome", "ok")}))
    assert got[calls] == BURST
    slowest = ("tradefleet_broker_call_duration_seconds_bucket",
               frozenset({("operation", "get_buyable_qty"), ("outcome", "ok"), ("le", "1.0")}))
    assert got[slowest] <= BURST - 2           # the budget held the last ones back


async def test_a_broker_error_is_timed_with_its_type_as_the_outcome(db):
    clock = FrozenClock(datetime.combine(DAY, datetime.min.time().replace(hour=10),
                                         tzinfo=SEOUL))
    metrics = WorkerMetrics()
    async with aiohttp.ClientSession() as session:
        config = KisConfig(base_url=f"http://127.0.0.1:{free_port()}", appkey=APPKEY,
                           appsecret=APPSECRET, cano="12345678", mode="real",
                           timeout_seconds=2.0)            # nothing listens there
        broker = MeteredBroker(await build_fleet_kis_broker(
            config, session, db, clock, share_quotes_window=None,
            on_budget_wait=metrics.budget_waited), metrics.broker_call)
        with pytest.raises(Exception) as failed:  # noqa: B017 - its type is the label
            await broker.get_balance()
    got = samples(metrics)
    outcome = type(failed.value).__name__
    key = ("tradefleet_broker_call_duration_seconds_count",
           frozenset({("operation", "get_balance"), ("outcome", outcome)}))
    assert got[key] == 1
    assert not any(n.endswith("_count") and ("outcome", "ok") in labels
                   for (n, labels) in got if n.startswith("tradefleet_broker_call"))
