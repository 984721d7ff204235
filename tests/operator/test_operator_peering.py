"""Issue 19 item 6: leader election through kopf's peering. The settings the operator hands
kopf (mandatory cluster-wide peering under the release's name, the oldest replica ranking
highest), and two ``tradefleet operator`` processes against the in-memory API: the second,
of lower priority, makes no call on TradingWorkers or pods while the first runs, and takes
over within the peering lifetime once the first is killed outright (SIGKILL: no goodbye),
and well before it when the first stops (SIGTERM: it withdraws from the peering)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import replace
from datetime import datetime

import kopf
import pytest
from tests.operator.cluster import running_cluster, write_kubeconfig
from tests.operator.factories import CONFIG
from tests.operator.operator_harness import NS, worker_body
from tests.operator.test_operator_command import BASE_ENV, _env

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.local_fleet.processes import free_port
from tradefleet.operator.config import ConfigError, load_operator_config
from tradefleet.operator.peering import apply_peering, start_priority

PEERING = "tradefleet-tradefleet"


def test_named_peering_is_mandatory_cluster_wide_and_the_oldest_replica_leads():
    settings = kopf.OperatorSettings()
    config = replace(CONFIG, peering_name=PEERING, peering_lifetime_seconds=20)
    apply_peering(settings, config, started_ns=1_000_000_000_000)
    p = settings.peering
    assert (p.standalone, p.mandatory, p.clusterwide) == (False, True, True)
    assert (p.name, p.lifetime) == (PEERING, 20)
    older, newer = start_priority(1_000_000_000_000), start_priority(1_000_000_001_000)
    assert p.priority == older > newer          # a replica started later waits
    chosen = kopf.OperatorSettings()
    apply_peering(chosen, replace(config, peering_priority=7))
    assert chosen.peering.priority == 7
    alone = kopf.OperatorSettings()
    apply_peering(alone, CONFIG)                 # no name: a local, single operator
    assert alone.peering.standalone is True


def test_peering_settings_are_read_and_named_when_wrong():
    base = {"TRADEFLEET_OPERATOR_NAMESPACES": "t", "TRADEFLEET_OPERATOR_WORKER_IMAGE": "i",
            "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://x"}
    config = load_operator_config({**base, "TRADEFLEET_OPERATOR_PEERING_NAME": PEERING,
                                   "TRADEFLEET_OPERATOR_PEERING_PRIORITY": "5",
                                   "TRADEFLEET_OPERATOR_PEERING_LIFETIME_SECONDS": "45"})
    assert (config.peering_name, config.peering_priority,
            config.peering_lifetime_seconds) == (PEERING, 5, 45)
    assert load_operator_config(base).peering_name is None
    with pytest.raises(ConfigError) as err:
        load_operator_config({**base, "TRADEFLEET_OPERATOR_PEERING_NAME": "Bad_Name",
                              "TRADEFLEET_OPERATOR_PEERING_PRIORITY": "high",
                              "TRADEFLEET_OPERATOR_PEERING_LIFETIME_SECONDS": "1"})
    for name in ("PEERING_NAME", "PEERING_PRIORITY", "PEERING_LIFETIME_SECONDS"):
        assert name in str(err.value)


# ---- two processes --------------------------------------------------------------------
WORKLOAD = ("/tradingworkers", "/pods", "/liquidationschedules")


def _calls_of(cluster, token: str) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(str(r.method), r.url.path) for r in cluster.seen
            if r.headers.get("Authorization") == f"Bearer {token}"]


def _workload(calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [c for c in calls if any(w in c[1] for w in WORKLOAD)]


async def _until(check, timeout: float, what: str) -> float:  # noqa: ANN001
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize(("how", "lifetime", "within"), [
    # killed outright: the standby waits until the leader's entry is a lifetime old
    pytest.param(signal.SIGKILL, 8, 8 + 10, id="killed"),
    # stopped: the leader withdraws its entry, the standby need not wait out the lifetime
    pytest.param(signal.SIGTERM, 60, 15, id="stopped"),
])
async def test_a_lower_priority_replica_stays_idle_and_takes_over_when_the_leader_dies(
        pg_dsn, tmp_path, how, lifetime, within):  # noqa: ANN001
    clock = SimClock(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL), 1.0)
    async with running_cluster() as cluster:
        url = str(cluster.url).rstrip("/")
        resp = await cluster.post("/apis/kopf.dev/v1/clusterkopfpeerings", json={
            "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering",
            "metadata": {"name": PEERING}})
        assert resp.status in (200, 201), await resp.text()
        procs = {}

        async def start(token: str, priority: int) -> None:
            env = _env(**BASE_ENV, KUBECONFIG=str(write_kubeconfig(
                tmp_path / token, url, token)), TRADEFLEET_DB__DSN=pg_dsn,
                TRADEFLEET_SIM_CLOCK=clock.to_env(), POD_ID=token,
                TRADEFLEET_OPERATOR_LIVENESS_PORT=str(free_port()),
                TRADEFLEET_OPERATOR_METRICS_PORT="0",
                TRADEFLEET_OPERATOR_PEERING_NAME=PEERING,
                TRADEFLEET_OPERATOR_PEERING_PRIORITY=str(priority),
                TRADEFLEET_OPERATOR_PEERING_LIFETIME_SECONDS=str(lifetime))
            procs[token] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tradefleet.cli", "operator", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)

        try:
            await start("leader", 100)
            await cluster.apply(worker_body("w-1"))
            await _until(lambda: cluster.pods(NS), 60, "the leader's pod")
            await start("standby", 10)
            peering = lambda: (cluster.find("clusterkopfpeerings", None, PEERING)  # noqa: E731
                               or {}).get("status") or {}
            await _until(lambda: "standby" in peering()
                         or _workload(_calls_of(cluster, "standby")), 60, "the standby")
            await cluster.apply(worker_body("w-2"))
            await _until(lambda: len(cluster.pods(NS)) == 2, 30, "the leader's second pod")
            await asyncio.sleep(8)                   # keep-alives and resyncs
            assert _workload(_calls_of(cluster, "standby")) == []
            assert "standby" in peering() and "leader" in peering()
            assert _workload(_calls_of(cluster, "leader"))

            killed = time.monotonic()
            procs["leader"].send_signal(how)
            await cluster.apply(worker_body("w-3"))
            took = await _until(
                lambda: any(p["metadata"]["labels"]["tradefleet.io/worker"] == "w-3"
                            for p in cluster.pods(NS)), lifetime + 30, "the takeover")
            took = time.monotonic() - killed
            print(f"takeover after {how.name} of the leader: {took:.1f}s "
                  f"(peering lifetime {lifetime}s)")
            assert took <= within
            await procs["leader"].wait()
            assert _workload(_calls_of(cluster, "standby"))
            # the peering needs only list, watch and patch (the chart's RBAC)
            peering_calls = {(m.rsplit(".", 1)[-1].upper(), p.rsplit("/", 1)[-1])
                             for token in ("leader", "standby")
                             for m, p in _calls_of(cluster, token)
                             if "/clusterkopfpeerings" in p}
            assert peering_calls
            assert {m for m, _ in peering_calls} <= {"GET", "PATCH"}
            assert ("GET", PEERING) not in peering_calls
        finally:
            outputs = {}
            for token, proc in procs.items():
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                out, _ = await asyncio.wait_for(proc.communicate(), 60)
                outputs[token] = out.decode()
                print(f"---- {token}\n" + outputs[token][-3000:])
        assert procs["standby"].returncode == 0
