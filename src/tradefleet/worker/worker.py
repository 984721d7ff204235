"""The worker process: start-up, recovery, the poll loop, timers and shutdown (spec SC-001,
SC-005..SC-009, EC-001, §6). Everything it needs is built by ``wiring``."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from datetime import datetime

import structlog

from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.errors import Fenced
from tradefleet.domain.events import AuthenticatedEvent, WorkerStartedEvent
from tradefleet.domain.risk import RiskLimits
from tradefleet.domain.states import WorkerStatus
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink
from tradefleet.services.lock_service import LockService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.cycle import TradingCycle
from tradefleet.worker.health import HealthState, start_health_server
from tradefleet.worker.recovery import recover_holding
from tradefleet.worker.retry import BrokerReadRetry
from tradefleet.worker.session import MarketDay, SessionGate
from tradefleet.worker.timers import heartbeat_loop, reclaim_interval, reclaim_loop

EXIT_OK = 0
EXIT_FENCED = 3


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    worker_id: str
    mode: str
    poll_interval_seconds: float
    lock_ttl_seconds: int
    heartbeat_interval_seconds: float
    limits: RiskLimits
    liquidation_at: datetime
    session_close: datetime
    health_port: int = 0
    market: MarketDay | None = None      # today's session; None: no closed/open checks


class Worker:
    """``run()`` returns the process exit code: 0 after a normal day or a requested stop,
    3 when this process was fenced (another process owns its identity or its locks)."""

    def __init__(self, config: WorkerConfig, *, broker: BrokerPort, clock: Clock,
                 sink: EventSink, registry: WorkerRegistry, locks: LockService,
                 retry: BrokerReadRetry, make_cycle) -> None:  # noqa: ANN001 - (epoch) -> cycle
        self.config = config
        self._broker = broker
        self._clock = clock
        self._sink = sink
        self._registry = registry
        self._locks = locks
        self._retry = retry
        self._make_cycle = make_cycle
        self.cycle: TradingCycle | None = None
        self.epoch: int | None = None
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._fenced = False
        self._log = structlog.get_logger("tradefleet.worker").bind(worker_id=config.worker_id)
        self.health = HealthState(config.heartbeat_interval_seconds)
        self._session = SessionGate(config.market, clock=clock, sink=sink,
                                    worker_id=config.worker_id)

    def request_stop(self, reason: str) -> None:
        """SIGTERM/SIGINT: stop buying and leave at the next safe point."""
        if not self._stop.is_set():
            self._log.info("stop requested", reason=reason)
            self._stop_reason = reason
            self._stop.set()

    def _on_fenced(self) -> None:
        self._fenced = True
        self.health.fenced = True
        self._stop_reason = "fenced"
        self._stop.set()

    async def start(self) -> TradingCycle:
        cfg = self.config
        expires = await self._retry.call("authenticate", self._broker.authenticate)
        await self._sink.publish(AuthenticatedEvent(worker_id=cfg.worker_id,
                                                    token_expires_at=expires))
        epoch = await self._registry.register(
            cfg.worker_id, pid=os.getpid(), host=socket.gethostname(), mode=cfg.mode,
            lock_ttl_seconds=cfg.lock_ttl_seconds)
        self.epoch = epoch
        await self._registry.open_day(cfg.worker_id, cfg.liquidation_at.astimezone(SEOUL).date())
        await self._sink.publish(WorkerStartedEvent(
            worker_id=cfg.worker_id, pid=os.getpid(), host=socket.gethostname(),
            status=WorkerStatus.IDLE.value, epoch=epoch,
            capital_limit=cfg.limits.capital_limit,
            daily_loss_limit=cfg.limits.daily_loss_limit, liquidation_at=cfg.liquidation_at))
        cycle = self._make_cycle(epoch)
        self.cycle = cycle
        return cycle

    async def recover(self, cycle: TradingCycle) -> None:
        """RECOVERY: settle orders left open by a previous life, then resume HOLD on an open
        position (keeping or re-taking its lock) or start scanning. Never buys again."""
        symbol = await recover_holding(cycle, self._locks, self.config.worker_id)
        if symbol is not None:
            await cycle.move(WorkerStatus.HOLD, symbol=symbol, reason="recovered open position")
        else:
            await cycle.move(WorkerStatus.SCAN, symbol=None, reason="start-up complete")

    async def run(self) -> int:
        cfg = self.config
        probes = await start_health_server(self.health, cfg.health_port)
        try:
            return await self._run()
        finally:
            if probes is not None:
                await probes.cleanup()

    async def _run(self) -> int:
        cfg = self.config
        if await self._session.closed_today():      # said so; nothing registered
            return EXIT_OK
        try:
            cycle = await self.start()
        except Fenced as exc:
            self._log.error("fenced during start-up", error=str(exc))
            return EXIT_FENCED
        assert self.epoch is not None
        timers = [
            asyncio.create_task(heartbeat_loop(
                self._locks, cfg.worker_id, self.epoch,
                interval_seconds=cfg.heartbeat_interval_seconds, on_fenced=self._on_fenced,
                on_beat=self.health.beat)),
            asyncio.create_task(reclaim_loop(
                self._locks, cfg.worker_id,
                interval_seconds=reclaim_interval(cfg.lock_ttl_seconds))),
        ]
        try:
            if await self._session.wait_for_open(self._sleep, self._stop.is_set):
                await self.recover(cycle)       # after the open: it may settle orders
            return await self._loop(cycle)      # (a stop while waiting ends it at once)
        except Fenced as exc:
            self._log.error("fenced: stopping trading at once", error=str(exc))
            return EXIT_FENCED
        finally:
            for task in timers:
                task.cancel()
            await asyncio.gather(*timers, return_exceptions=True)

    async def _loop(self, cycle: TradingCycle) -> int:
        cfg = self.config
        while not self._stop.is_set() and self._clock.now() < cfg.session_close:
            self.health.status = cycle.status.value
            await cycle.poll()
            self.health.status = cycle.status.value
            if self._fenced:
                break
            await self._sleep(cfg.poll_interval_seconds)
        if self._fenced:
            self._log.error("worker fenced: heartbeat refused; not trading, exiting")
            return EXIT_FENCED
        return await self._shutdown(cycle)

    async def _sleep(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for fut in (sleeper, stopper):
            fut.cancel()

    async def _shutdown(self, cycle: TradingCycle) -> int:
        """Requested stop in HOLD before liquidation time keeps position and lock for the
        restarted process; at or after liquidation time everything is sold first."""
        cfg = self.config
        assert self.epoch is not None
        cycle.buying_stopped = True
        reason = self._stop_reason or "session closed"
        if cycle.holding is not None and cycle.holding.position_id:
            if cycle.liquidation_due() or not self._stop.is_set():
                await cycle.liquidate()
            else:
                self._log.info("stopping while holding: position and lock kept for restart",
                               symbol=cycle.holding.lock.symbol, reason=reason)
                reason = f"{reason}; holding {cycle.holding.lock.symbol} kept"
        await self._registry.stop(cfg.worker_id, self.epoch, reason)
        self.health.status = WorkerStatus.EXIT.value
        self._log.info("worker stopped", reason=reason, pid=os.getpid())
        return EXIT_OK
