"""The worker process: start-up, recovery, the poll loop, timers and shutdown (spec SC-001,
SC-005..SC-009, EC-001, §6). Everything it needs is built by ``wiring``."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime

import structlog

from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.errors import Fenced, TokenIssueThrottled
from tradefleet.domain.events import AuthenticatedEvent, WorkerStartedEvent
from tradefleet.domain.lease import Lease
from tradefleet.domain.risk import RiskLimits
from tradefleet.domain.states import WorkerStatus
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink
from tradefleet.services.lock_service import LockService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.cycle import TradingCycle, Why
from tradefleet.worker.health import HealthState, start_health_server
from tradefleet.worker.metrics_page import WorkerMetricsPage
from tradefleet.worker.poll_lag import PollLagMeter
from tradefleet.worker.recovery import recover_holding
from tradefleet.worker.retry import BrokerReadRetry
from tradefleet.worker.session import MarketDay, SessionGate
from tradefleet.worker.timers import follow_loop, heartbeat_loop, reclaim_interval, reclaim_loop

EXIT_OK = 0
POLL_BACKOFF_MAX_S = 5.0     # real seconds between polls while the database fails
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
    follow_interval_seconds: float = 1.0
    auth_wait_cap_seconds: float = 60.0   # longest single wait on a throttled token issue
    market: MarketDay | None = None      # today's session; None: no closed/open checks


class Worker:
    """``run()`` returns the process exit code: 0 after a normal day or a requested stop,
    3 when this process was fenced (another process owns its identity or its locks).

    The database may go away (a restart, a failover): a poll that fails is logged and the
    next one tried; the lease lapses on its own if the outage outlives it (nothing is sent
    then); and a worker whose row was marked EXIT *because* the database was unreachable
    re-registers and recovers before it trades again. A process that was merely paused, or
    superseded by a newer one of its id, is fenced and exits."""

    def __init__(self, config: WorkerConfig, *, broker: BrokerPort, clock: Clock,
                 sink: EventSink, registry: WorkerRegistry, locks: LockService,
                 retry: BrokerReadRetry, lease: Lease,
                 make_cycle,  # noqa: ANN001 - (epoch) -> cycle
                 metrics_page: WorkerMetricsPage | None = None,
                 poll_lag: PollLagMeter | None = None) -> None:
        self.config = config
        self._broker = broker
        self._clock = clock
        self._sink = sink
        self._registry = registry
        self._locks = locks
        self._retry = retry
        self._make_cycle = make_cycle
        self.metrics_page = metrics_page       # GET /metrics on the health port
        self.poll_lag = poll_lag               # session time spent per poll, to Postgres
        self.lease = lease
        self._refused = False           # the heartbeat was refused for our epoch
        self._db_trouble = False        # a database call failed since the last good beat
        self._heartbeat: asyncio.Task | None = None
        self._failed_polls = 0
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
        self.lease.revoke()
        self._stop_reason = "fenced"
        self._stop.set()

    def _on_refused(self) -> None:
        self._refused = True
        self._stop.set()                # wake the loop; it decides between rejoin and exit

    def _on_beat(self) -> None:
        self._db_trouble = False
        self.health.beat()

    def _on_db_error(self, exc: BaseException) -> None:
        self._db_trouble = True

    async def start(self) -> TradingCycle:
        cfg = self.config
        expires = await self._authenticate()
        await self._sink.publish(AuthenticatedEvent(worker_id=cfg.worker_id,
                                                    token_expires_at=expires))
        epoch = await self._register()
        await self._registry.open_day(cfg.worker_id, cfg.liquidation_at.astimezone(SEOUL).date())
        await self._sink.publish(WorkerStartedEvent(
            worker_id=cfg.worker_id, pid=os.getpid(), host=socket.gethostname(),
            status=WorkerStatus.IDLE.value, epoch=epoch,
            capital_limit=cfg.limits.capital_limit,
            daily_loss_limit=cfg.limits.daily_loss_limit, liquidation_at=cfg.liquidation_at))
        cycle = self._make_cycle(epoch)
        self.cycle = cycle
        return cycle

    async def _authenticate(self) -> datetime | None:
        """KIS issues one token a minute per appkey: a throttled issuance with no valid token
        is waited out (until the time KIS names, as the fleet remembers it), not retried hot
        and not fatal: a pod that exits here would only be restarted into the same refusal."""
        while True:
            try:
                return await self._retry.call("authenticate", self._broker.authenticate)
            except TokenIssueThrottled as exc:
                wait = min(self.config.auth_wait_cap_seconds,
                           exc.retry_in if exc.retry_in is not None else 60.0)
                self._log.warning("token issuance throttled; waiting before asking again",
                                  retry_in_s=round(wait, 1), error=str(exc))
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=max(wait, 0.05))
                except TimeoutError:
                    continue
                raise

    async def _register(self) -> int:
        cfg = self.config
        sent_at = time.monotonic()
        epoch = await self._registry.register(
            cfg.worker_id, pid=os.getpid(), host=socket.gethostname(), mode=cfg.mode,
            lock_ttl_seconds=cfg.lock_ttl_seconds)
        self.epoch = epoch
        self.lease.grant(epoch, sent_at)
        return epoch

    async def recover(self, cycle: TradingCycle) -> None:
        """RECOVERY: settle orders left open by a previous life, then resume HOLD on an open
        position (keeping or re-taking its lock) or start scanning. Never buys again."""
        symbol = await recover_holding(cycle)
        if symbol is not None:
            await cycle.on(Why.RECOVERED, symbol=symbol)
        else:
            await cycle.on(Why.STARTED, symbol=None)

    async def run(self) -> int:
        cfg = self.config
        page = self.metrics_page
        probes = await start_health_server(self.health, cfg.health_port,
                                           metrics=page.render if page else None)
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
        except TokenIssueThrottled:
            self._log.info("stopped while waiting for a broker token; nothing registered")
            return EXIT_OK
        assert self.epoch is not None
        self._start_heartbeat()
        timers = [
            asyncio.create_task(reclaim_loop(
                self._locks, cfg.worker_id,
                interval_seconds=reclaim_interval(cfg.lock_ttl_seconds))),
        ]
        if cycle.reconcile is not None:
            timers.append(asyncio.create_task(follow_loop(
                cycle.reconcile, cfg.worker_id, interval_seconds=cfg.follow_interval_seconds)))
        try:
            if await self._session.wait_for_open(self._sleep, self._stop.is_set):
                await self.recover(cycle)       # after the open: it may settle orders
            return await self._loop(cycle)      # (a stop while waiting ends it at once)
        except Fenced as exc:
            self._log.error("fenced: stopping trading at once", error=str(exc))
            return EXIT_FENCED
        finally:
            self.lease.revoke()
            if self._heartbeat is not None:
                timers.append(self._heartbeat)
            for task in timers:
                task.cancel()
            await asyncio.gather(*timers, return_exceptions=True)

    def _start_heartbeat(self) -> None:
        self._heartbeat = asyncio.create_task(heartbeat_loop(
            self._locks, self.config.worker_id, self.lease,
            interval_seconds=self.config.heartbeat_interval_seconds,
            on_refused=self._on_refused, on_beat=self._on_beat, on_error=self._on_db_error))

    async def _loop(self, cycle: TradingCycle) -> int:
        cfg = self.config
        while not self._fenced and self._clock.now() < cfg.session_close:
            if self._refused and not await self._rejoin(cycle):
                break
            if self._stop.is_set() and not self._refused:
                break
            self.health.status = cycle.status.value
            failed = 0
            if self.lease.valid():      # nothing is decided while the lease is lapsed
                failed = 0 if await self._poll(cycle) else self._failed_polls + 1
            self._failed_polls = failed
            self.health.status = cycle.status.value
            if failed:                  # the database is away: back off in real seconds
                await asyncio.sleep(min(POLL_BACKOFF_MAX_S, 0.1 * 2 ** min(failed, 8)))
            else:
                await self._sleep(cfg.poll_interval_seconds)
        if self._fenced:
            self._log.error("worker fenced: heartbeat refused; not trading, exiting")
            return EXIT_FENCED
        return await self._shutdown(cycle)

    async def _poll(self, cycle: TradingCycle) -> bool:
        started = self._clock.now()
        try:
            await cycle.poll()
        except Fenced:
            raise
        except Exception as exc:  # noqa: BLE001 - the database may be restarting
            self._db_trouble = True
            self._log.error("poll failed; stopping buying until the database answers",
                            error_type=type(exc).__name__, error=str(exc),
                            retry_in_s=min(POLL_BACKOFF_MAX_S,
                                           0.1 * 2 ** min(self._failed_polls + 1, 8)),
                            exc_info=self._failed_polls == 0)
            return False
        if self.poll_lag is not None:
            await self.poll_lag.observe(started, self._clock.now())
        return True

    async def _rejoin(self, cycle: TradingCycle) -> bool:
        """Our heartbeat was refused. Re-register and recover only if our row was marked EXIT
        while the database was unreachable to us (an outage outlived the lease); a process
        that was paused, or superseded by a newer one of its id, is fenced."""
        if not self._db_trouble:
            self._on_fenced()
            return False
        try:
            row = await self._registry.get(self.config.worker_id)
        except Exception as exc:  # noqa: BLE001 - still unreachable: try next loop
            self._log.error("database still unreachable; not trading",
                            error_type=type(exc).__name__, error=str(exc))
            return True
        if row is None or row.epoch != self.epoch or row.status is not WorkerStatus.EXIT:
            self._on_fenced()
            return False
        self._log.warning("marked EXIT during a database outage; re-registering and "
                          "recovering before trading again", epoch=self.epoch)
        try:
            epoch = await self._register()
            cycle.epoch = epoch
            cycle.holding = None
            cycle.status = WorkerStatus.IDLE
            await self.recover(cycle)
        except Fenced:
            self._on_fenced()
            return False
        except Exception as exc:  # noqa: BLE001
            self._log.error("re-registration failed; retrying",
                            error_type=type(exc).__name__, error=str(exc), exc_info=True)
            return True
        self._refused = False
        if not self._stop_reason:
            self._stop.clear()
        self._start_heartbeat()
        return True

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
                try:
                    await cycle.liquidate()
                except Exception as exc:  # noqa: BLE001 - what is left is an orphan now
                    self._log.error("liquidation at shutdown failed; the position is left "
                                    "to the fleet's orphan liquidation",
                                    error_type=type(exc).__name__, error=str(exc),
                                    exc_info=True)
            else:
                self._log.info("stopping while holding: position and lock kept for restart",
                               symbol=cycle.holding.lock.symbol, reason=reason)
                reason = f"{reason}; holding {cycle.holding.lock.symbol} kept"
        for attempt in range(5):
            try:
                await self._registry.stop(cfg.worker_id, self.epoch, reason)
                break
            except Exception as exc:  # noqa: BLE001 - the row ages out to a reclaim anyway
                self._log.error("could not record the stop", attempt=attempt + 1,
                                error_type=type(exc).__name__, error=str(exc))
                await asyncio.sleep(min(2.0, 0.2 * 2 ** attempt))
        self.health.status = WorkerStatus.EXIT.value
        self._log.info("worker stopped", reason=reason, pid=os.getpid())
        return EXIT_OK
