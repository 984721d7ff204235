"""Kubernetes API requests as RBAC and the API server's metrics name them ("list pods",
"get secrets", "patch tradingworkers/status"), for the cost tests and the benchmark
(bench/operator_api_calls.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

WRITES = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}


def call_kind(method: str, path: str, params: Mapping[str, str] | None = None) -> str:
    """``verb resource[/subresource]`` of one request; discovery and the like as ``other``."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        rest = parts[3:]
    else:
        return f"{method.lower()} {path}"
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    if not rest:
        return f"{method.lower()} {path}"
    resource, named = rest[0], len(rest) >= 2
    if len(rest) >= 3:
        resource += "/" + rest[2]
    if method == "GET":
        watching = str((params or {}).get("watch", "")).lower() in ("1", "true")
        verb = "watch" if watching else ("get" if named else "list")
    else:
        verb = WRITES.get(method, method.lower())
    return f"{verb} {resource}"


def count_calls(requests: Iterable[tuple[str, str, Mapping[str, str]]]) -> Counter[str]:
    return Counter(call_kind(m, p, q) for m, p, q in requests)


def kmock_requests(seen: Iterable) -> list[tuple[str, str, dict[str, str]]]:  # noqa: ANN001
    """(method, path, query) of requests a kmock server recorded."""
    return [(str(getattr(r.method, "value", r.method)).upper(), r.url.path, dict(r.params))
            for r in seen]
