"""``tradefleet operator`` as a process: refuses a bad configuration naming the variable,
and otherwise logs in with a kubeconfig, serves its probes (readiness: Postgres answers),
turns a TradingWorker into a pod and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import datetime

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from tests.operator.cluster import running_cluster, write_kubeconfig
from tests.operator.operator_harness import NS, worker_body

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.local_fleet.processes import free_port

BASE_ENV = {"TRADEFLEET_OPERATOR_NAMESPACES": NS,
            "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:test",
            "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://tf@db/tradefleet"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRADEFLEET_", "KUBECONFIG"))}
    return {**env, **extra}


def test_a_bad_configuration_is_refused_naming_the_variable():
    env = _env(TRADEFLEET_OPERATOR_NAMESPACES="Trading",
               TRADEFLEET_OPERATOR_RESYNC_SECONDS="0")
    done = subprocess.run([sys.executable, "-m", "tradefleet.cli", "operator"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    out = " ".join(done.stdout.split())
    assert "TRADEFLEET_OPERATOR_NAMESPACES: not a namespace name: 'Trading'" in out
    assert "TRADEFLEET_OPERATOR_WORKER_IMAGE" in out
    assert "TRADEFLEET_OPERATOR_RESYNC_SECONDS: must be in 1..600" in out
    assert "TRADEFLEET_OPERATOR_DB_SECRET" in out


def test_a_bad_metrics_port_is_refused_naming_the_option():
    done = subprocess.run([sys.executable, "-m", "tradefleet.cli", "operator", "--check",
                           "--metrics-port", "70000"], env=_env(**BASE_ENV),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--metrics-port" in done.stderr and "70000" in done.stderr


def test_check_validates_and_prints_without_connecting():
    done = subprocess.run([sys.executable, "-m", "tradefleet.cli", "operator", "--check"],
                          env=_env(**BASE_ENV), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "operator configuration valid: namespaces trading" in done.stdout


async def test_the_command_runs_the_operator_until_sigterm(pg_dsn, tmp_path):
    clock = SimClock(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL), 1.0)
    port, metrics_port = free_port(), free_port()
    async with running_cluster() as cluster:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url).rstrip("/"))
        env = _env(**BASE_ENV, KUBECONFIG=str(kubeconfig), TRADEFLEET_DB__DSN=pg_dsn,
                   TRADEFLEET_SIM_CLOCK=clock.to_env(),
                   TRADEFLEET_OPERATOR_LIVENESS_PORT=str(port))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradefleet.cli", "operator",
            "--metrics-port", str(metrics_port), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            await cluster.apply(worker_body("w-cmd"))
            for _ in range(600):
                if cluster.pods(NS):
                    break
                await asyncio.sleep(0.1)
            (pod,) = cluster.pods(NS)
            assert pod["metadata"]["labels"]["tradefleet.io/worker"] == "w-cmd"
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    assert resp.status == 200                  # the process works
                async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    assert resp.status == 200                  # and can reconcile
                    assert "postgres" in await resp.json()
            async with aiohttp.ClientSession() as session, \
                    session.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                assert resp.status == 200
                families = {f.name: f for f in text_string_to_metric_families(
                    await resp.text())}
            created = families["tradefleet_operator_pods_created"].samples
            assert [s.value for s in created if s.name.endswith("_total")] == [1.0]
            operator_calls = [r for r in cluster.seen
                              if "kopf" in r.headers.get("User-Agent", "")
                              or "OpenAPI" in r.headers.get("User-Agent", "")]
            assert operator_calls
            assert {r.headers.get("Authorization") for r in operator_calls} == \
                {"Bearer operator-token"}
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), 60)
            print(output.decode()[-4000:])
        assert proc.returncode == 0, output.decode()[-3000:]
