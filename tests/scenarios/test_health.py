"""Liveness and readiness probes of a running worker, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import datetime

import aiohttp
from tests.scenarios.test_sc001_start import settings_for, wait_for_status

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.local_fleet.processes import free_port
from tradefleet.worker.launch import launch


async def start_probed_worker(db, worker_id: str):  # noqa: ANN001, ANN201
    """A worker launched as its command launches it, its health server on a free port,
    once it is in SCAN: (port, the launch task, [the built worker])."""
    port = free_port()
    settings = settings_for(worker_id, TRADEFLEET_HEALTH_PORT=str(port),
                            TRADEFLEET_POLL_INTERVAL_SECONDS="60")
    clock = SimClock(datetime(2026, 11, 24, 9, 30, tzinfo=SEOUL), speed=60)
    market = SimMarket(3, n_symbols=10, clock=clock)
    built: list = []
    task = asyncio.create_task(launch(settings, broker=SimBroker(market), clock=clock,
                                      universe=market.symbols(), db=db,
                                      install_signals=False, on_built=built.append))
    await wait_for_status(db, worker_id, "SCAN", task)
    return port, task, built


async def test_probes_follow_the_worker(db, logs):
    port, task, built = await start_probed_worker(db, "w-health")
    async with aiohttp.ClientSession() as http:
        for _ in range(40):                         # first poll updates the probe state
            async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                if resp.status == 200:
                    break
            await asyncio.sleep(0.05)
        assert resp.status == 200
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["alive"] is True
        built[0].health.fenced = True               # what a refused heartbeat sets
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 503
        async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
            assert resp.status == 503
    built[0].request_stop("test over")
    assert await asyncio.wait_for(task, 10) == 0
