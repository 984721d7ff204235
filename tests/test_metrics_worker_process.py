"""``tradefleet worker`` as a process (the KIS adapter against the exchange simulator, the
fleet's Postgres request budget) serves ``/metrics`` on its health port: every request that
reached the exchange went through the budget and was counted there, and the worker's state,
broker calls and heartbeat are in the page."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from datetime import time as dtime

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from tests.exchange_thread import DAY, ExchangeThread
from tests.order_path_child import kis_config
from tests.scenarios.test_health import free_port

from tradefleet.adapters.clock import SEOUL, SimClock

WORKER = "w-proc-metrics"


def _env(ex: ExchangeThread, dsn: str, clock: SimClock, port: int) -> dict[str, str]:
    universe = ",".join(ex.market.symbols()[:6])
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")},
            "TRADEFLEET_WORKER_ID": WORKER, "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_DB__DSN": dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
            "TRADEFLEET_BROKER__BASE_URL": ex.base_url,
            "TRADEFLEET_BROKER__APPKEY": kis_config(ex.base_url).appkey,
            "TRADEFLEET_BROKER__APPSECRET": "child-secret",
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": "1", "TRADEFLEET_UNIVERSE": universe,
            "TRADEFLEET_HEALTH_PORT": str(port), "TRADEFLEET_LOG_FORMAT": "json"}


async def _scrape(url: str) -> dict[tuple[str, frozenset], float] | None:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            if resp.status != 200:
                return None
            text = await resp.text()
    except aiohttp.ClientError:
        return None
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def _sum(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and set(labels.items()) <= set(ls))


async def test_a_worker_process_serves_its_metrics_with_the_budget_counted(pg_dsn, tmp_path):
    clock = SimClock(datetime.combine(DAY, dtime(10, 0), tzinfo=SEOUL), 1.0, time.time())
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with ExchangeThread(n_symbols=12, clock=clock) as ex:
        log = (tmp_path / "worker.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "tradefleet.cli", "worker"],  # noqa: S603
                                env=_env(ex, pg_dsn, clock, port), stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            samples = None
            while time.monotonic() < deadline:
                before = ex.calls()
                samples = await _scrape(url)
                after = ex.calls()
                if samples and _sum(samples, "tradefleet_worker_state", state="SCAN") == 1 \
                        and _sum(samples, "tradefleet_rate_budget_wait_seconds_count") >= 5:
                    break
                await asyncio.sleep(0.2)
            assert samples is not None, (tmp_path / "worker.log").read_text()[-3000:]
            assert _sum(samples, "tradefleet_worker_state", state="SCAN") == 1
            budgeted = _sum(samples, "tradefleet_rate_budget_wait_seconds_count")
            # granted before it is sent: every arrival so far was counted first
            assert before <= budgeted <= after + 40 and budgeted >= 5
            assert _sum(samples, "tradefleet_rate_budget_refusals_total") == 0
            assert _sum(samples, "tradefleet_broker_call_duration_seconds_count",
                        operation="authenticate", outcome="ok") == 1
            assert _sum(samples, "tradefleet_broker_call_duration_seconds_count",
                        operation="get_quotes") >= 1
            assert samples[("tradefleet_worker_info", frozenset({("worker_id", WORKER)}))] == 1
            assert 0 <= samples[("tradefleet_heartbeat_age_seconds", frozenset())] < 30
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)
            log.close()
        assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
