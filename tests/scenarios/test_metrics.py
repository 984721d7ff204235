"""The worker's ``GET /metrics`` over real HTTP, after a simulated trade: the exposition
parses, and every figure agrees with what the database holds (orders by status, fills,
locks, the position, today's PnL, the heartbeat's age by the database clock) and with the
broker calls the trade needed (one order POST per orders row: nothing is ever resent)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from tests.scenarios.harness import DAY_START, build, poll_until, poll_until_holding
from tests.scenarios.test_health import start_probed_worker

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.worker_readings import read_worker_readings
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.telemetry.metrics import WorkerMetrics
from tradefleet.domain.exits import ExitParams
from tradefleet.local_fleet.processes import free_port
from tradefleet.worker.health import start_health_server
from tradefleet.worker.metrics_page import WorkerMetricsPage

TAKE_PROFIT_SOON = ExitParams(Decimal("29.9"), Decimal("0.01"), 120, 0)
SAMPLE = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> SAMPLE:
    """Every sample of a valid exposition, keyed by (name, sorted labels); the parser
    raises on anything Prometheus would not read."""
    samples: SAMPLE = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def total(samples: SAMPLE, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == want for k, want in labels.items()))


@contextlib.asynccontextmanager
async def serving(worker) -> AsyncIterator[str]:  # noqa: ANN001
    """The worker's own health server (what ``Worker.run`` starts) on a free port."""
    port = free_port()
    runner = await start_health_server(worker.health, port, "127.0.0.1",
                                       metrics=worker.metrics_page.render)
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        await runner.cleanup()


async def scrape(url: str) -> SAMPLE:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(await resp.text())


async def test_metrics_after_a_trade_agree_with_the_database(db):
    clock = FrozenClock(DAY_START)
    rig = await build(db, worker_id="w-metrics", clock=clock, exits=TAKE_PROFIT_SOON,
                      market=SimMarket(7, n_symbols=40, clock=clock))
    wid = rig.worker_id
    symbol = await poll_until_holding(rig)
    rig.worker.health.status = rig.cycle.status.value      # what the poll loop sets
    async with serving(rig.worker) as url:
        holding = await scrape(url)
        pos = await db.pool.fetchrow(
            "SELECT qty, entry_price FROM positions WHERE worker_id = $1 AND status = 'OPEN'",
            wid)
        assert holding[("tradefleet_worker_state", (("state", "HOLD"),))] == 1
        assert total(holding, "tradefleet_worker_state") == 1
        assert holding[("tradefleet_worker_info", (("worker_id", wid),))] == 1
        assert holding[("tradefleet_position_shares", (("symbol", symbol),))] == pos["qty"] > 0
        assert holding[("tradefleet_position_value_won", (("symbol", symbol),))] == \
            round(pos["qty"] * pos["entry_price"])

        await poll_until(rig, lambda: rig.cycle.holding is None)     # take-profit sells
        rig.worker.health.status = rig.cycle.status.value
        after = await scrape(url)
        db_age = await db.pool.fetchval(
            "SELECT EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 FROM workers "
            "WHERE worker_id = $1", wid)

    orders = await db.pool.fetch(
        "SELECT side, status, count(*) AS n FROM orders WHERE worker_id = $1 "
        "GROUP BY side, status", wid)
    assert {r["side"] for r in orders} == {"BUY", "SELL"}
    for side in ("BUY", "SELL"):
        rows = sum(r["n"] for r in orders if r["side"] == side)
        assert total(after, "tradefleet_orders_total", side=side, status="NEW") == rows
        assert total(after, "tradefleet_broker_call_duration_seconds_count",
                     operation="place_order") >= rows
    for r in orders:                 # every order ended where the counter says it went
        assert r["status"] in ("FILLED", "CANCELLED", "REJECTED", "EXPIRED")
        assert total(after, "tradefleet_orders_total", side=r["side"],
                     status=r["status"]) == r["n"]
    assert total(after, "tradefleet_broker_call_duration_seconds_count",
                 operation="place_order") == sum(r["n"] for r in orders)
    fills = await db.pool.fetch(
        "SELECT f.side, count(*) AS n, sum(f.qty) AS q FROM fills f JOIN orders o "
        "USING (order_id) WHERE o.worker_id = $1 GROUP BY f.side", wid)
    for f in fills:
        assert total(after, "tradefleet_order_fills_total", side=f["side"]) == f["n"]
        assert total(after, "tradefleet_order_filled_shares_total", side=f["side"]) == f["q"]
    acquired = await db.pool.fetchval(
        "SELECT count(*) FROM events WHERE worker_id = $1 AND event_type = "
        "'LockAcquiredEvent'", wid)
    assert total(after, "tradefleet_lock_acquisitions_total") == acquired >= 1
    assert total(after, "tradefleet_lock_releases_total", reason="EXITED") == 1
    pnl = await db.pool.fetchval(
        "SELECT sum(realized_pnl) FROM positions WHERE worker_id = $1 AND status = 'CLOSED'",
        wid)
    assert pnl is not None
    assert after[("tradefleet_realized_pnl_today_won", ())] == pnl
    assert total(after, "tradefleet_positions_closed_total") == 1
    assert total(after, "tradefleet_position_shares") == 0       # the sold symbol is gone
    assert after[("tradefleet_worker_state", (("state", "SCAN"),))] == 1
    age = after[("tradefleet_heartbeat_age_seconds", ())]
    assert 0 <= age <= db_age                   # read just before the test's own reading
    assert total(after, "tradefleet_broker_call_duration_seconds_count",
                 operation="get_quotes", outcome="ok") >= 1


async def test_a_second_worker_in_the_process_has_its_own_figures(db):
    clock = FrozenClock(DAY_START)
    market = SimMarket(7, n_symbols=40, clock=clock)
    trader = await build(db, worker_id="w-trader", clock=clock, market=market)
    idle = await build(db, worker_id="w-idle", clock=clock, market=market,
                       capital_limit=1)            # cannot afford a share: never orders
    await poll_until_holding(trader)
    async with serving(idle.worker) as url:
        samples = await scrape(url)
    assert total(samples, "tradefleet_orders_total") == 0
    assert total(samples, "tradefleet_position_shares") == 0
    assert samples[("tradefleet_worker_info", (("worker_id", "w-idle"),))] == 1
    assert total(samples, "tradefleet_worker_info") == 1


async def test_a_running_worker_serves_metrics_on_its_health_port(db):
    port, task, built = await start_probed_worker(db, "w-scraped")
    url = f"http://127.0.0.1:{port}/metrics"
    for _ in range(60):                          # the first poll sets the state
        samples = await scrape(url)
        if samples.get(("tradefleet_worker_state", (("state", "SCAN"),))) == 1:
            break
        await asyncio.sleep(0.05)
    assert samples[("tradefleet_worker_state", (("state", "SCAN"),))] == 1
    assert total(samples, "tradefleet_worker_state") == 1
    assert total(samples, "tradefleet_broker_call_duration_seconds_count",
                 operation="authenticate", outcome="ok") == 1
    assert 0 <= samples[("tradefleet_heartbeat_age_seconds", ())] < 60
    assert total(samples, "tradefleet_metrics_refresh_failures_total") == 0
    built[0].request_stop("test over")
    assert await asyncio.wait_for(task, 10) == 0


async def test_a_scrape_while_the_database_fails_says_the_age_is_unknown(db, pg_dsn):
    rig = await build(db, worker_id="w-outage")
    await poll_until_holding(rig)
    symbol = rig.cycle.holding.lock.symbol
    own = await Database.connect(pg_dsn, min_size=1, max_size=2)     # the one to lose
    page = WorkerMetricsPage(WorkerMetrics(), lambda: read_worker_readings(
        own, "w-outage", DAY_START.date()))
    first = parse((await page.render("HOLD")).decode())
    shares = first[("tradefleet_position_shares", (("symbol", symbol),))]
    assert shares > 0 and first[("tradefleet_heartbeat_age_seconds", ())] >= 0
    await own.close()                                                 # the database is away
    second = parse((await page.render("HOLD")).decode())
    assert math.isnan(second[("tradefleet_heartbeat_age_seconds", ())])
    assert second[("tradefleet_metrics_refresh_failures_total", ())] == 1
    assert second[("tradefleet_position_shares", (("symbol", symbol),))] == shares
    assert second[("tradefleet_worker_state", (("state", "HOLD"),))] == 1
