"""Process start-up in the order the spec asks (SC-001): settings are already loaded and
logging configured by the command; here secrets are registered for redaction, the database
is connected and migrated, the worker is built and run, and signals are wired to a stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import structlog

from tradefleet.adapters.postgres.connect import connect_database, migrate_database
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.telemetry.metrics import WorkerMetrics
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.market_of import MarketOf
from tradefleet.settings import Settings
from tradefleet.worker.param_version import take_param_version
from tradefleet.worker.wiring import build_worker, register_settings_secrets
from tradefleet.worker.worker import Worker


def describe(settings: Settings, universe_size: int) -> dict[str, object]:
    """What start-up logs about the configuration: no secrets, no account number, and not
    the trading mode (spec §5.1 keeps it out of the logs)."""
    return {"poll_interval_seconds": settings.poll_interval_seconds,
            "capital_limit": settings.risk.capital_limit,
            "daily_loss_limit": settings.risk.daily_loss_limit,
            "liquidation_offset_minutes": settings.risk.liquidation_offset_minutes,
            "strategy": settings.strategy.name, "universe_size": universe_size,
            "lock_ttl_seconds": settings.locks.ttl_seconds}


async def launch(settings: Settings, *, broker: BrokerPort, clock: Clock,
                 universe: Sequence[str], db: Database | None = None,
                 install_signals: bool = True,
                 on_built: Callable[[Worker], None] | None = None,
                 track_timeout_s: float = 5.0, retry_base_delay: float = 0.2,
                 markets: MarketOf | None = None,
                 metrics: WorkerMetrics | None = None,
                 beside: Callable[[Worker], AbstractAsyncContextManager[object]] | None = None,
                 ) -> int:
    """``beside(worker)``: what runs with the worker and ends with it (the account's feed,
    issue 20); entered before ``Worker.run`` and left before this returns."""
    log = structlog.get_logger("tradefleet.worker").bind(worker_id=settings.worker_id)
    register_settings_secrets(settings)
    log.info("configuration loaded", **describe(settings, len(universe)))
    own_db = db is None
    if db is None:
        dsn = settings.db.dsn.get_secret_value() if settings.db.dsn else None
        db = await connect_database(
            dsn, sslmode=settings.db.sslmode,
            sslrootcert=str(settings.db.sslrootcert) if settings.db.sslrootcert else None)
        await migrate_database(db)
        log.info("database connected and migrated")
    # the session's parameter version, taken once here and never again until the next start
    settings = await take_param_version(settings, db, clock)
    if settings.strategy.taken_version is not None:
        log.info("parameter version taken", param_version=settings.strategy.taken_version)
    worker = build_worker(settings, db=db, broker=broker, clock=clock, universe=universe,
                          track_timeout_s=track_timeout_s, retry_base_delay=retry_base_delay,
                          markets=markets, metrics=metrics)
    if on_built is not None:
        on_built(worker)
    loop = asyncio.get_running_loop()
    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.request_stop, sig.name)
    try:
        async with beside(worker) if beside is not None else contextlib.nullcontext():
            return await worker.run()
    finally:
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        if own_db:
            await db.close()
