"""The worker's ``GET /metrics`` page: the state gauge from the running worker, the gauges
read from Postgres for this scrape (bounded in time, so a database outage never hangs the
scraper), then the Prometheus text of the worker's own registry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from tradefleet.adapters.postgres.worker_readings import WorkerReadings
from tradefleet.adapters.telemetry.metrics import WorkerMetrics

READ_TIMEOUT_S = 2.0


class WorkerMetricsPage:
    def __init__(self, metrics: WorkerMetrics, read: Callable[[], Awaitable[WorkerReadings]],
                 *, timeout_s: float = READ_TIMEOUT_S) -> None:
        self.metrics = metrics
        self._read = read
        self._timeout = timeout_s
        self._log = structlog.get_logger("tradefleet.metrics")

    async def render(self, status: str) -> bytes:
        self.metrics.set_state(status)
        try:
            readings = await asyncio.wait_for(self._read(), self._timeout)
        except Exception as exc:  # noqa: BLE001 - a scrape never fails the worker
            self._log.warning("metrics readings failed", error_type=type(exc).__name__,
                              error=str(exc))
            self.metrics.readings_failed()
        else:
            self.metrics.set_readings(positions=readings.positions,
                                      realized_pnl_won=readings.realized_pnl_won,
                                      heartbeat_age_seconds=readings.heartbeat_age_seconds)
        return self.metrics.render()
