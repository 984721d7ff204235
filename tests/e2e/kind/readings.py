"""Pure readings of what the kind end-to-end test gets back from kubectl, Jaeger, psql and
the simulator, so each can be unit-tested on a machine without a cluster
(tests/e2e/kind/test_kind_readings.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

TOOLS = ("docker", "kind", "helm", "kubectl")


def missing_tools(which: Callable[[str], str | None],
                  docker_responds: Callable[[], bool]) -> list[str]:
    """The tools the test cannot run without, by name; a docker whose daemon does not
    answer counts as missing."""
    missing = [tool for tool in TOOLS if which(tool) is None]
    if "docker" not in missing and not docker_responds():
        missing.insert(0, "docker (installed, but the daemon does not respond)")
    return missing


def simulation_values(close: datetime, minutes_before_close: float, speed: float,
                      real_start: float) -> dict[str, Any]:
    """The chart's ``simulation.*`` values for a session shared by the exchange, the operator
    and the workers: it stands ``minutes_before_close`` before ``close`` at ``real_start``
    (Unix seconds) and runs ``speed`` simulated seconds per real second."""
    if close.tzinfo is None:
        raise ValueError("close: a tz-aware time (Asia/Seoul)")
    start = close - timedelta(minutes=minutes_before_close)
    return {"simulation.start": start.isoformat(timespec="seconds"),
            "simulation.speed": speed, "simulation.realStart": int(real_start)}


def crd_resource(docs: Iterable[dict[str, Any]], kind: str) -> str:
    """``<plural>.<group>`` of the CRD for ``kind`` (what kubectl wait/get accept)."""
    for doc in docs:
        if doc and doc.get("kind") == "CustomResourceDefinition" \
                and doc["spec"]["names"]["kind"] == kind:
            return f"{doc['spec']['names']['plural']}.{doc['spec']['group']}"
    raise LookupError(f"no CustomResourceDefinition for kind {kind}")


def trading_workers(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The TradingWorker documents of an example file, in file order."""
    found = [d for d in docs if d and d.get("kind") == "TradingWorker"]
    if not found:
        raise LookupError("the example file has no TradingWorker")
    return found


def service_of_url(url: str, namespace: str) -> tuple[str, str, int]:
    """(namespace, service, port) of an in-cluster URL such as
    ``http://tradefleet-exchange.tradefleet.svc:8900``."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    labels = parts.hostname.split(".")
    ns = labels[1] if len(labels) > 1 and labels[1] != "svc" else namespace
    return ns, labels[0], parts.port or (443 if parts.scheme == "https" else 80)


def proxy_path(namespace: str, service: dict[str, Any], port: int, path: str) -> str:
    """The API server's service-proxy path to ``path`` on the service's ``port`` (named by
    the port's name when it has one: the proxy resolves names)."""
    for entry in service["spec"]["ports"]:
        if entry["port"] == port:
            ref = entry.get("name") or str(port)
            name = service["metadata"]["name"]
            return f"/api/v1/namespaces/{namespace}/services/{name}:{ref}/proxy/{path.lstrip('/')}"
    ports = [p["port"] for p in service["spec"]["ports"]]
    raise LookupError(f"service {service['metadata']['name']} has no port {port}: {ports}")


def condition(obj: dict[str, Any], kind: str) -> str | None:
    """The status (True/False/Unknown) of the condition ``kind``; None if absent."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status")
    return None


def pod_ready(pod: dict[str, Any]) -> bool:
    running = (pod.get("status") or {}).get("phase") == "Running"
    return running and condition(pod, "Ready") == "True" \
        and not pod["metadata"].get("deletionTimestamp")


def worker_pods(pods: dict[str, Any], worker: str) -> list[dict[str, Any]]:
    """The pods of one TradingWorker (the operator labels them app.kubernetes.io/instance)."""
    return [p for p in pods.get("items", [])
            if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") == worker
            and (p["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
            == "worker"]


def pod_named(pods: dict[str, Any], prefix: str) -> str:
    """The one running pod whose name starts with ``prefix`` (a Deployment's or
    StatefulSet's pod of the chart, e.g. ``tradefleet-postgresql``)."""
    names = sorted(p["metadata"]["name"] for p in pods.get("items", [])
                   if p["metadata"]["name"].startswith(prefix) and pod_ready(p))
    if len(names) != 1:
        raise LookupError(f"expected one ready pod named {prefix}*, found {names}")
    return names[0]


def worker_to_exchange_links(traces: dict[str, Any], worker_service: str,
                             ) -> list[tuple[str, str, str]]:
    """(trace id, worker span, exchange span) for every span of another service whose parent
    is a span of ``worker_service`` and whose service names the exchange, from Jaeger's
    ``/api/traces`` answer."""
    links = []
    for trace in traces.get("data") or []:
        processes = trace.get("processes") or {}
        services = {pid: p.get("serviceName", "") for pid, p in processes.items()}
        spans = {s["spanID"]: s for s in trace.get("spans") or []}
        for span in spans.values():
            service = services.get(span.get("processID"), "")
            if service == worker_service or "exchange" not in service:
                continue
            for ref in span.get("references") or []:
                parent = spans.get(ref.get("spanID"))
                if ref.get("refType") == "CHILD_OF" and parent is not None \
                        and services.get(parent.get("processID")) == worker_service:
                    links.append((trace["traceID"], parent["operationName"],
                                  span["operationName"]))
    return links


def psql_json(output: str) -> Any:
    """The JSON value a ``psql -At -c "SELECT json_..."`` printed (json_agg breaks lines
    between elements, so it may span several)."""
    text = output.strip()
    if not text:
        raise ValueError("psql printed nothing (expected one JSON value)")
    return json.loads(text)
