"""The pieces of the real-cluster end-to-end test (test_e2e_real_cluster.py) that are not the
story itself: the database reached as a Service, SQL from the test, the worker pods and their
nodes, readings of ``kubectl get tw``."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from tests.real_k8s.cluster import RealCluster

from tradefleet.adapters.calendar_cache import krx_calendar
from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.calendar import TradingSession

WORKER_LABEL = "tradefleet.io/worker"


def next_session() -> TradingSession:
    """Today's KRX session in Seoul, or the next one (a closed day would end the workers)."""
    day = datetime.now(SEOUL).date()
    for offset in range(30):
        candidate = day + timedelta(days=offset)
        session = krx_calendar(candidate).session(candidate)
        if session is not None:
            return session
    raise LookupError(f"no KRX session in the 30 days from {day}")


def socket_of(dsn: str) -> tuple[str, str]:
    """(unix socket path, database name) of a pgserver DSN."""
    parts = urlsplit(dsn)
    host = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)["host"]
    (socket,) = [p for p in Path(host).glob(".s.PGSQL.*") if p.suffix != ".lock"]
    return str(socket), parts.path.lstrip("/")


def db_service(cluster: RealCluster, ns: str, name: str, ip: str, port: int) -> None:
    """A selector-less Service whose Endpoints are a local process (our PostgreSQL)."""
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                   "spec": {"ports": [{"name": "postgresql", "port": port}]}}, namespace=ns)
    cluster.apply({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
                   "subsets": [{"addresses": [{"ip": ip}],
                                "ports": [{"name": "postgresql", "port": port}]}]},
                  namespace=ns)


def sql(dsn: str, query: str, *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [dict(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()
    return asyncio.run(run())


def workers(dsn: str) -> dict[str, dict[str, Any]]:
    return {r["worker_id"]: r for r in sql(
        dsn, "SELECT worker_id, status, epoch, current_symbol FROM workers")}


def worker_pods(cluster: RealCluster, ns: str, name: str) -> list[dict[str, Any]]:
    pods = cluster.get("pods", "-n", ns, "-l", f"{WORKER_LABEL}={name}")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def live_pod(cluster: RealCluster, ns: str, name: str) -> dict[str, Any] | None:
    """The worker's running, ready pod, if any."""
    for pod in worker_pods(cluster, ns, name):
        status = pod.get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True"
                    for c in status.get("conditions") or [])
        if status.get("phase") == "Running" and ready:
            return pod
    return None


def tw_table(cluster: RealCluster, ns: str) -> dict[str, dict[str, str]]:
    """``kubectl get tw`` as the user reads it: column header -> cell, per row."""
    lines = cluster.kubectl("-n", ns, "get", "tw").stdout.splitlines()
    header = lines[0]
    starts = [i for i, ch in enumerate(header)          # columns are 3 spaces apart;
              if ch != " " and (i == 0 or header[i - 2:i] == "  ")]  # "PNL TODAY" is one
    names = [header[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
    rows = {}
    for line in lines[1:]:
        cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        rows[cells[0]] = dict(zip(names, cells, strict=True))
    return rows


def endpoint_ip(cluster: RealCluster, ns: str, service: str) -> str | None:
    found = cluster.get("endpoints", service, "-n", ns)
    for subset in found.get("subsets") or []:
        for address in subset.get("addresses") or []:
            return address["ip"]
    return None
