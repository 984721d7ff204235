"""The operator as it runs for real (kopf, its handlers, the reconcile, Postgres), pointed
at the in-memory cluster, on a clock that follows the event loop (so ``looptime`` fast-
forwards the operator's day), plus a stand-in for a worker process in Postgres."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import kopf
from tests.operator.cluster import Cluster

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.calendar import SEOUL, load_krx_calendar
from tradefleet.domain.states import WorkerStatus
from tradefleet.operator.config import OperatorConfig
from tradefleet.operator.handlers import build_registry
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.runtime import OperatorRuntime, build_runtime
from tradefleet.services.lock_service import LockService
from tradefleet.services.worker_registry import WorkerRegistry

NS = "trading"
CONFIG = OperatorConfig(namespaces=(NS,), worker_image="tradefleet:test",
                        pod_db_dsn="postgresql://tf@db/tradefleet", resync_seconds=5.0,
                        delete_timeout_seconds=120.0, watch_timeout_seconds=None)


class LoopClock:
    """``start`` plus the event loop's time since the clock was made (loop time: looptime
    makes a trading day pass in a moment)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._t0 = asyncio.get_running_loop().time()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=asyncio.get_running_loop().time() - self._t0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def worker_body(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "tradefleet.io/v1alpha1", "kind": "TradingWorker",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"mode": "sim", "broker": {"baseUrl": "http://exchange:8700"},
                     "capitalLimit": 5_000_000, "dailyLossLimit": 1_000_000,
                     "universe": ["005930", "000660"], **spec}}


@contextlib.asynccontextmanager
async def running_operator(cluster: Cluster, db: Database, clock: Any,
                           **config: Any) -> AsyncIterator[OperatorRuntime]:
    url = str(cluster.url).rstrip("/")
    kube = KubeApi.for_server(url, token="test-token")
    runtime = build_runtime(replace(CONFIG, **config), db=db, kube=kube, clock=clock,
                            calendar=load_krx_calendar(),
                            connection=kopf.ConnectionInfo(server=url, token="test-token"))
    stop = asyncio.Event()
    task = asyncio.create_task(kopf.operator(
        registry=build_registry(runtime), namespaces=list(runtime.config.namespaces),
        clusterwide=False, standalone=True, stop_flag=stop))
    try:
        yield runtime
    finally:
        stop.set()
        try:
            await task        # no timeout: loop time flies while Postgres answers
        finally:
            await kube.close()


class WorkerProcess:
    """A worker process as Postgres sees it: it registers (new epoch), heartbeats, moves
    between states and holds a position under its lock. The operator judges it from these
    rows only."""

    def __init__(self, db: Database, worker_id: str) -> None:
        self.db = db
        self.worker_id = worker_id
        sink = PostgresEventSink(db)
        self.registry = WorkerRegistry(PostgresWorkerStore(db), sink)
        self.locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
        self.epoch = 0

    async def start(self, host: str = "pod") -> int:
        self.epoch = await self.registry.register(self.worker_id, pid=4242, host=host,
                                                  mode="sim", lock_ttl_seconds=30)
        await self.registry.transition(self.worker_id, self.epoch, WorkerStatus.SCAN,
                                       current_symbol=None, reason="start-up complete")
        return self.epoch

    async def beat(self) -> bool:
        return await self.locks.heartbeat(self.worker_id, self.epoch)

    async def go_silent(self, seconds: int = 600) -> None:
        """As if the last heartbeat was ``seconds`` ago (the database clock judges ages)."""
        await self.db.pool.execute(
            "UPDATE workers SET heartbeat_at = now() - make_interval(secs => $2) "
            "WHERE worker_id = $1", self.worker_id, seconds)
        await self.db.pool.execute(
            "UPDATE stock_locks SET heartbeat_at = now() - make_interval(secs => $2) "
            "WHERE worker_id = $1", self.worker_id, seconds)

    async def hold(self, symbol: str, qty: int = 10, price: int = 70_000) -> None:
        lock = await self.locks.acquire_lock(symbol, self.worker_id, epoch=self.epoch)
        assert lock is not None
        await self.db.pool.execute(
            """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
                   buy_amount, entry_price, entry_at, strategy_name, strategy_version,
                   param_version, fencing_token)
               VALUES ($1, $2, $3, 'OPEN', $4, $4, $5, $6, now(), 'ma_breakout',
                       'ma_breakout/1', 'p', $7)""",
            self.worker_id, datetime.now(SEOUL).date(), symbol, qty, qty * price, price,
            lock.fencing_token)
        await self.registry.transition(self.worker_id, self.epoch, WorkerStatus.HOLD,
                                       current_symbol=symbol, reason="entry filled")

    async def sell_everything(self) -> None:
        await self.db.pool.execute(
            """UPDATE positions SET status = 'CLOSED', sold_qty = bought_qty, qty = 0,
                   exit_reason = 'LIQUIDATION', exit_at = now()
                WHERE worker_id = $1 AND status = 'OPEN'""", self.worker_id)
        for lock in await self.locks.locks_of(self.worker_id):
            await self.locks.release_lock(lock, "EXITED")
        await self.registry.transition(self.worker_id, self.epoch, WorkerStatus.SCAN,
                                       current_symbol=None, reason="position exited")

    async def stop(self) -> None:
        await self.registry.stop(self.worker_id, self.epoch, "stop requested")


def schedule_body(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "tradefleet.io/v1alpha1", "kind": "LiquidationSchedule",
            "metadata": {"name": name}, "spec": {"operator": CONFIG.name, **spec}}
