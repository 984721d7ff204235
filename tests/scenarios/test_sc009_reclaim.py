"""SC-009 with running workers: a worker holding a position dies (its process ends without
a stop: no release, no sale). A live worker's lock-expiry timer finds its heartbeat older
than the TTL (database clock), reclaims all its locks and marks it EXIT; the dead worker's
symbol is then free, and the live worker takes it (its lock, then the orphaned shares,
which it sells).

검증: stock_locks rows of the dead worker_id gone, workers status = EXIT for it,
LockReleasedEvent (RECLAIMED), log (worker failure detected, locks reclaimed; ERROR)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal

from tests.scenarios.evidence import events, lines, one_line, worker_row
from tests.scenarios.harness import worker_env

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.exits import ExitParams
from tradefleet.settings import load_settings
from tradefleet.worker.launch import launch

HOLD = ExitParams(stop_loss_pct=Decimal("20"), take_profit_pct=Decimal("20"),
                  trend_ma_window=120,
                  time_exit_minutes=0)


def settings(worker_id: str):  # noqa: ANN202
    return load_settings(None, worker_env(
        worker_id, exits=HOLD, TRADEFLEET_LOCKS__TTL_SECONDS="3",
        TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS="1",
        TRADEFLEET_POLL_INTERVAL_SECONDS="30"))


async def _until(predicate, timeout: float, what: str, *tasks: asyncio.Task) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        for task in tasks:
            if task.done():
                task.result()
                raise AssertionError(f"a worker ended before {what}")
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def test_dead_holding_worker_is_reclaimed_and_its_symbol_taken_over(pg_dsn, logs):
    clock = SimClock(datetime(2026, 11, 24, 9, 30, 5, tzinfo=SEOUL), speed=120)
    market = SimMarket(17, n_symbols=30, clock=clock)
    dead_db = await Database.connect(pg_dsn, min_size=1, max_size=4)
    live_db = await Database.connect(pg_dsn, min_size=1, max_size=4)
    db = live_db
    live: list = []

    def start(worker_id: str, pool: Database, universe: list[str],
              built: list | None = None) -> asyncio.Task:
        return asyncio.create_task(launch(
            settings(worker_id), broker=SimBroker(market), clock=clock,
            universe=universe, db=pool, install_signals=False, track_timeout_s=1.0,
            retry_base_delay=0.01, on_built=None if built is None else built.append))

    try:
        dying = start("w-dies", dead_db, market.symbols())

        async def holding() -> bool:
            return (await worker_row(db, "w-dies"))["status"] == "HOLD" if \
                await db.pool.fetchval("SELECT 1 FROM workers WHERE worker_id = 'w-dies'") \
                else False
        await _until(holding, 30, "w-dies holds a position", dying)
        [lock] = await db.pool.fetch("SELECT * FROM stock_locks WHERE worker_id = 'w-dies'")
        symbol = lock["symbol"]
        dying.cancel()                               # the process dies: no stop, no release
        await asyncio.gather(dying, return_exceptions=True)
        assert (await worker_row(db, "w-dies"))["status"] == "HOLD"

        # the live worker trades the dead one's symbol only: it stays in SCAN, trying it
        survivor = start("w-lives", live_db, [symbol], live)

        async def reclaimed() -> bool:
            return (await worker_row(db, "w-dies"))["status"] == "EXIT"
        await _until(reclaimed, 30, "w-dies reclaimed", survivor)

        async def sold() -> bool:
            return await db.pool.fetchval(
                "SELECT status FROM positions WHERE symbol = $1 AND adopted_from = 'w-dies'",
                symbol) == "CLOSED"
        await _until(sold, 30, "the orphaned shares sold", survivor)
        live[0].request_stop("test over")
        assert await asyncio.wait_for(survivor, 20) == 0

        # the dead worker's locks are gone and it is EXIT
        assert await db.pool.fetchval(
            "SELECT count(*) FROM stock_locks WHERE worker_id = 'w-dies'") == 0
        row = await worker_row(db, "w-dies")
        assert row["status"] == "EXIT" and row["stopped_at"] is not None
        [failed] = await events(db, "WorkerFailedEvent", worker_id="w-dies")
        assert failed["locks_reclaimed"] == 1
        released = await events(db, "LockReleasedEvent", worker_id="w-dies")
        assert [(e["symbol"], e["reason"], e["fencing_token"]) for e in released] == \
            [(symbol, "RECLAIMED", lock["fencing_token"])]
        # the symbol became free: the live worker took its lock and sold the shares
        taken = [e for e in await events(db, "LockAcquiredEvent", worker_id="w-lives")
                 if e["symbol"] == symbol]
        assert taken and taken[0]["event_id"] > released[0]["event_id"]
        [adopted] = await events(db, "OrphanAdoptedEvent", worker_id="w-lives")
        assert (adopted["symbol"], adopted["adopted_from"]) == (symbol, "w-dies")
        pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1 AND "
                                     "adopted_from = 'w-dies'", symbol)
        assert (pos["worker_id"], pos["exit_reason"], pos["qty"]) == ("w-lives", "ORPHAN", 0)
        assert not [h for h in market.balance().holdings if h.symbol == symbol and h.qty]

        detected = one_line(logs, event_type="WorkerFailedEvent", worker_id="w-dies")
        assert detected["level"] == "error" and detected["locks_reclaimed"] == 1
        [sweep] = lines(logs, event="dead workers detected; locks reclaimed",
                        worker_id="w-lives")
        assert sweep["level"] == "error" and sweep["workers"] == ["w-dies"]
        freed = one_line(logs, event_type="LockReleasedEvent", worker_id="w-dies",
                         reason="RECLAIMED")
        assert freed["level"] == "info" and freed["symbol"] == symbol
    finally:
        await dead_db.close()
        await live_db.close()
