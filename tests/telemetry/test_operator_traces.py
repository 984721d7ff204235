"""The operator's reconcile passes as spans: ``tradefleet operator`` as a process against the
in-memory Kubernetes API exports OTLP/HTTP to a local receiver; each pass of a
TradingWorker or a LiquidationSchedule arrives as ``reconcile <Kind>`` of service
``tradefleet-operator`` with the object's namespace, name, generation and the pass's outcome.
The batch exporter waits ten minutes between exports: what arrives was flushed at SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from tests.operator.cluster import running_cluster, write_kubeconfig
from tests.operator.operator_harness import NS, schedule_body, worker_body
from tests.polling import until
from tests.telemetry.otlp_receiver import OtlpReceiver, ReceivedSpan

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.telemetry.tracing import configure_tracing
from tradefleet.local_fleet.processes import free_port
from tradefleet.operator.config import load_operator_config
from tradefleet.operator.reconcile_span import note_outcome, reconcile_span

BASE_ENV = {"TRADEFLEET_OPERATOR_NAMESPACES": NS,
            "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:test",
            "TRADEFLEET_OPERATOR_POD_DB_DSN": "postgresql://tf@db/tradefleet"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRADEFLEET_", "KUBECONFIG", "OTEL_"))}
    return {**env, **extra}


def _passes(spans: list[ReceivedSpan], kind: str, name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == f"reconcile {kind}" and s.attributes["name"] == name]


async def test_operator_reconciles_arrive_as_spans_over_otlp(pg_dsn, tmp_path):
    clock = SimClock(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL), 1.0)   # in session
    with OtlpReceiver() as rx:
        async with running_cluster() as cluster:
            kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url).rstrip("/"))
            env = _env(**BASE_ENV, KUBECONFIG=str(kubeconfig), TRADEFLEET_DB__DSN=pg_dsn,
                       TRADEFLEET_SIM_CLOCK=clock.to_env(),
                       TRADEFLEET_OPERATOR_LIVENESS_PORT=str(free_port()),
                       OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
                       OTEL_BSP_SCHEDULE_DELAY="600000",
                       OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tradefleet.cli", "operator", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            try:
                await cluster.apply(worker_body("w-span"))
                await cluster.apply(schedule_body("krx", offsetMinutes=15))
                await cluster.apply(schedule_body("broken", offsetMinutes=0))
                try:
                    await until(lambda: cluster.pods(NS), "the worker's pod")
                except AssertionError:
                    proc.send_signal(signal.SIGTERM)
                    out, _ = await asyncio.wait_for(proc.communicate(), 60)
                    print("OPERATOR OUTPUT", out.decode()[-6000:])
                    raise
                await cluster.patch_spec("tradingworkers", NS, "w-span",
                                         {"capitalLimit": 4_000_000})
                await until(lambda: cluster.find("tradingworkers", NS, "w-span")
                             ["metadata"].get("generation") == 2, "generation 2")
                await until(lambda: any(p["metadata"].get("deletionTimestamp")
                                         for p in cluster.pods(NS)),
                             "the old pod replaced after the spec change")
                await until(lambda: (cluster.find("liquidationschedules", None, "krx")
                                      .get("status") or {}).get("nextRun"),
                             "the schedule's status")
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                output, _ = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, output.decode()[-3000:]
        spans = rx.received()

    assert spans, output.decode()[-3000:]
    assert {s.service for s in spans} == {"tradefleet-operator"}
    assert {s.resource.get("deployment.environment") for s in spans} == {"test"}
    assert all(s.kind == "INTERNAL" and s.parent_span_id == "" for s in spans)

    worker = _passes(spans, "TradingWorker", "w-span")
    assert {(s.attributes["kind"], s.attributes["namespace"]) for s in worker} == \
        {("TradingWorker", NS)}
    first = [s for s in worker if "CreatePod" in s.attributes.get("actions", [])]
    assert first and first[0].attributes["generation"] == 1
    assert first[0].attributes["outcome"] == "Starting"
    changed = [s for s in worker if s.attributes["generation"] == 2]
    assert any("DeletePod" in s.attributes.get("actions", []) for s in changed)
    assert all(s.attributes["outcome"] and s.status_code != StatusCode.ERROR.value
               for s in worker)

    krx = _passes(spans, "LiquidationSchedule", "krx")
    assert krx and {s.attributes["outcome"] for s in krx} == {"Waiting"}
    assert all(s.attributes["namespace"] == "" and s.attributes["generation"] == 1
               and s.attributes["wake_in_seconds"] > 0 for s in krx)
    broken = _passes(spans, "LiquidationSchedule", "broken")
    assert broken and {s.attributes["outcome"] for s in broken} == {"InvalidSpec"}


def test_a_pass_that_raises_ends_with_outcome_error():
    exporter = InMemorySpanExporter()
    configure_tracing("tradefleet-test", exporter=exporter)
    body = {"metadata": {"name": "w-err", "namespace": NS, "generation": 3}}
    with pytest.raises(RuntimeError, match="api down"), \
            reconcile_span("TradingWorker", body):
        note_outcome("Starting")             # overwritten: the pass did not finish
        raise RuntimeError("api down")
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "reconcile TradingWorker"
               and s.attributes["name"] == "w-err"]
    assert dict(span.attributes) == {"kind": "TradingWorker", "namespace": NS, "name": "w-err",
                                     "generation": 3, "outcome": "error"}
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_the_operators_service_name_is_not_passed_to_its_worker_pods():
    config = load_operator_config({**BASE_ENV, "OTEL_SERVICE_NAME": "tradefleet-operator",
                                   "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"})
    assert config.pod_env == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}
