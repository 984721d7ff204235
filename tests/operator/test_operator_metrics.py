"""The operator's ``GET /metrics`` over real HTTP while it runs for real (kopf, kmock,
Postgres, looptime): reconcile passes, pod creations and recreations, reclaims and a
liquidation run with its after-close check, each counted as the cluster and Postgres show
them; and the ``--metrics-port`` / TRADEFLEET_OPERATOR_METRICS_PORT setting."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.operator.cluster import eventually, running_cluster
from tests.operator.operator_harness import (
    LoopClock,
    WorkerProcess,
    running_operator,
    schedule_body,
    worker_body,
)
from tests.operator.test_operator_kopf import TEN, _running, _status
from tests.operator.test_operator_schedule import _kst
from tests.operator.test_operator_schedule import _status as _schedule_status
from tests.scenarios.test_health import free_port

from tradefleet.adapters.telemetry.metrics_server import start_metrics_server
from tradefleet.domain.errors import ConfigError
from tradefleet.operator.config import load_operator_config

pytestmark = [pytest.mark.looptime]
NS = "trading"


@contextlib.asynccontextmanager
async def scraped(runtime) -> AsyncIterator[str]:  # noqa: ANN001
    """The server ``tradefleet operator`` starts, on a free port."""
    port = free_port()
    runner = await start_metrics_server(runtime.metrics.render, port, "127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        await runner.cleanup()


async def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and set(labels.items()) <= set(ls))


async def test_reconciles_recreations_and_reclaims_are_counted(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)) as runtime, \
            scraped(runtime) as url:
        await cluster.apply(worker_body("w-1"))
        first, worker = await _running(cluster, loop_db)
        await cluster.delete(f"/api/v1/namespaces/{NS}/pods/{first}")
        await worker.stop()
        await cluster.remove_pod(NS, first)
        second, worker = await _running(cluster, loop_db, not_=(first,))
        await cluster.end_pod(NS, second, exit_code=137, reason="OOMKilled")
        await worker.go_silent()                     # killed: its heartbeat stops
        await _running(cluster, loop_db, not_=(first, second))
        await eventually(lambda: _status(cluster).get("recreations") == 2, what="2 recreations")
        got = await scrape(url)
        reasons = [r for _, r, _ in cluster.events_for("w-1")]
        reclaimed = await loop_db.pool.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'WorkerFailedEvent'")

    assert value(got, "tradefleet_operator_pod_recreations_total") == 2 == \
        reasons.count("PodRecreated")
    assert value(got, "tradefleet_operator_pods_created_total") == 3
    assert value(got, "tradefleet_operator_workers_reclaimed_total") == reclaimed == 1
    assert value(got, "tradefleet_operator_reclaims_total") >= 1
    passes = value(got, "tradefleet_operator_reconciles_total")
    assert passes == value(got, "tradefleet_operator_reconcile_duration_seconds_count") > 3
    assert value(got, "tradefleet_operator_reconciles_total", outcome="ok") > 0
    assert value(got, "tradefleet_operator_reconciles_total", outcome="error") == 0


async def test_a_liquidation_run_and_its_check_are_counted(loop_db):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(_kst(2026, 11, 24, 15, 12)),
                             resync_seconds=120.0) as runtime, \
            scraped(runtime) as url:
        await cluster.apply(worker_body("w-mom"))
        holder = WorkerProcess(loop_db, "w-mom")
        await holder.start()
        await holder.hold("005930")                 # never sells: the check finds it
        await cluster.apply(schedule_body("krx", offsetMinutes=15, checkAfterCloseMinutes=2))
        await eventually(lambda: _schedule_status(cluster).get("lastResult") == "NotFlat",
                         timeout=3600, step=5, what="the check after the close")
        got = await scrape(url)
        run = await loop_db.pool.fetchrow("SELECT workers, flat FROM liquidation_runs")
    assert value(got, "tradefleet_operator_liquidation_runs_total") == 1
    assert value(got, "tradefleet_operator_liquidation_workers_ordered_total") == \
        len(run["workers"]) == 1
    assert run["flat"] is False
    assert value(got, "tradefleet_operator_liquidation_checks_total", outcome="not_flat") == 1
    assert value(got, "tradefleet_operator_liquidation_checks_total", outcome="flat") == 0


def test_the_metrics_port_defaults_to_9100_and_bad_values_are_named():
    base = {"TRADEFLEET_OPERATOR_NAMESPACES": "trading",
            "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:1",
            "TRADEFLEET_OPERATOR_DB_SECRET": "db/dsn"}
    assert load_operator_config(base).metrics_port == 9100
    assert load_operator_config({**base, "TRADEFLEET_OPERATOR_METRICS_PORT": "0"}
                                ).metrics_port == 0
    for bad in ("70000", "http"):
        with pytest.raises(ConfigError, match="TRADEFLEET_OPERATOR_METRICS_PORT"):
            load_operator_config({**base, "TRADEFLEET_OPERATOR_METRICS_PORT": bad})
