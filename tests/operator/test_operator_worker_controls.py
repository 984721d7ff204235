"""The operator's orders to a worker through the database (worker_controls), end to end on
the worker's side: a liquidation request moves the cycle's liquidation time earlier (never
later, never from another day) and a held position is sold on the next poll; a pause stops
buying while a held position is still managed; the store's writes are idempotent."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from tests.scenarios.harness import DAY_START, LIQUIDATION_AT, build, enter, liquid_symbol

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.worker_controls_store import (
    PostgresWorkerControls,
    read_controls,
)
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.states import WorkerStatus
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.settings import load_settings
from tradefleet.worker.wiring import build_worker


async def _rig_with_controls(db, worker_id: str):  # noqa: ANN202
    rig = await build(db, worker_id=worker_id)
    rig.cycle.hooks = replace(rig.cycle.hooks,                        # as wiring passes it
                              controls=lambda: read_controls(db.pool, worker_id))
    return rig


async def test_store_writes_are_idempotent_and_an_earlier_request_wins(db):
    controls = PostgresWorkerControls(db)
    assert await controls.read("w-x") == await read_controls(db.pool, "w-x")
    assert (await controls.read("w-x")).buy_paused is False
    assert await controls.set_paused("w-x", True) is True
    assert await controls.set_paused("w-x", True) is False          # nothing to change
    at = datetime(2026, 11, 24, 15, 15, tzinfo=SEOUL)
    assert await controls.request_liquidation("w-x", at, "schedule/krx") is True
    assert await controls.request_liquidation("w-x", at, "schedule/krx") is False
    assert await controls.request_liquidation("w-x", at + timedelta(minutes=1), "x") is False
    assert await controls.request_liquidation("w-x", at - timedelta(minutes=5), "delete") is True
    read = await controls.read("w-x")
    assert read.buy_paused is True and read.liquidate_requested_by == "delete"
    assert read.liquidate_from(at.date()) == at - timedelta(minutes=5)
    assert read.liquidate_from(at.date() + timedelta(days=1)) is None
    tomorrow = at + timedelta(days=1)                                 # a new day's request
    assert await controls.request_liquidation("w-x", tomorrow, "schedule/krx") is True
    assert (await controls.read("w-x")).liquidate_requested_at == tomorrow


async def test_a_liquidation_request_sells_the_held_position_on_the_next_poll(db):
    rig = await _rig_with_controls(db, "w-ctl")
    symbol = liquid_symbol(rig.market, 0)
    await enter(rig, symbol)
    await rig.cycle.poll()                       # before any request: still held
    assert rig.cycle.holding is not None and rig.cycle.liquidation_at == LIQUIDATION_AT
    asked = DAY_START + timedelta(minutes=1)
    await PostgresWorkerControls(db).request_liquidation("w-ctl", asked, "test")
    rig.clock.set(asked + timedelta(seconds=5))

    await rig.cycle.poll()

    assert rig.cycle.liquidation_at == asked
    assert rig.cycle.holding is None and rig.cycle.status is WorkerStatus.SCAN
    sells = await db.pool.fetch("SELECT purpose, status FROM orders WHERE side = 'SELL'")
    assert [(s["purpose"], s["status"]) for s in sells] == [("LIQUIDATION", "FILLED")]
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    await rig.cycle.poll()                       # and buys nothing afterwards
    assert rig.cycle.buying_stopped
    assert await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'BUY'") == 1


async def test_a_request_of_another_day_or_later_than_the_own_clock_changes_nothing(db):
    rig = await _rig_with_controls(db, "w-old")
    controls = PostgresWorkerControls(db)
    await controls.request_liquidation("w-old", DAY_START - timedelta(days=1), "yesterday")
    await rig.cycle.poll()
    assert rig.cycle.liquidation_at == LIQUIDATION_AT
    await controls.request_liquidation("w-old", LIQUIDATION_AT + timedelta(minutes=5), "late")
    await rig.cycle.poll()
    assert rig.cycle.liquidation_at == LIQUIDATION_AT


async def test_paused_stops_buying_but_keeps_managing_what_is_held(db):
    rig = await _rig_with_controls(db, "w-pause")
    symbol = liquid_symbol(rig.market, 0)
    await enter(rig, symbol)
    await PostgresWorkerControls(db).set_paused("w-pause", True)
    rig.clock.set(LIQUIDATION_AT + timedelta(seconds=10))   # still liquidates while paused
    await rig.cycle.poll()
    assert rig.cycle.buying_paused and rig.cycle.holding is None
    sells = await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'SELL'")
    assert sells == 1


async def test_wiring_gives_the_cycle_its_controls(db):
    """Through build_worker: paused, a SCAN poll scans nothing; unpaused, it scans."""
    settings = load_settings(None, {
        "TRADEFLEET_WORKER_ID": "w-wired", "TRADEFLEET_RISK__CAPITAL_LIMIT": "1",
        "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1"})
    clock = FrozenClock(DAY_START)
    market = SimMarket(7, n_symbols=10, clock=clock)
    worker = build_worker(settings, db=db, broker=SimBroker(market), clock=clock,
                          universe=market.symbols())
    epoch = await WorkerRegistry(PostgresWorkerStore(db), PostgresEventSink(db)).register(
        "w-wired", pid=1, host="t", mode="sim", lock_ttl_seconds=30)
    cycle = worker._make_cycle(epoch)
    await cycle.move(WorkerStatus.SCAN, symbol=None, reason="test")
    await PostgresWorkerControls(db).set_paused("w-wired", True)
    await cycle.poll()
    assert await db.pool.fetchval("SELECT count(*) FROM candidates") == 0
    await PostgresWorkerControls(db).set_paused("w-wired", False)
    await cycle.poll()
    assert not cycle.buying_paused
    assert await db.pool.fetchval("SELECT count(*) FROM candidates") > 0


async def test_the_read_model_tells_a_reclaimed_worker_from_one_that_stopped(db):
    from tradefleet.adapters.postgres.fleet_status_store import PostgresFleetStatusStore
    from tradefleet.adapters.postgres.lock_store import PostgresLockStore
    from tradefleet.services.lock_service import LockService

    sink = PostgresEventSink(db)
    registry = WorkerRegistry(PostgresWorkerStore(db), sink)
    for wid in ("w-stop", "w-dead"):
        await registry.register(wid, pid=1, host="t", mode="sim", lock_ttl_seconds=3)
    await registry.stop("w-stop", 1, "requested")
    await db.pool.execute("UPDATE workers SET heartbeat_at = now() - interval '1 minute' "
                          "WHERE worker_id = 'w-dead'")
    assert await LockService(PostgresLockStore(db), sink, ttl_seconds=3).reclaim_expired() \
        == ["w-dead"]
    store = PostgresFleetStatusStore(db)
    stopped = await store.worker_state("w-stop", DAY_START.date())
    dead = await store.worker_state("w-dead", DAY_START.date())
    assert (stopped.status, stopped.reclaimed, stopped.stale) == ("EXIT", False, False)
    assert (dead.status, dead.reclaimed, dead.live) == ("EXIT", True, False)
    nobody = await store.worker_state("w-none", DAY_START.date())
    assert not nobody.registered and nobody.holdings.flat
