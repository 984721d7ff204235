"""What the packaging tests know of the chart charts/tradefleet: its values.yaml when the
chart is in the tree, else the shared contract of the helpers (image.repository `tradefleet`,
image.tag, image.pullPolicy; exchange/postgresql/jaeger.enabled; Jaeger UI service
`<release>-jaeger` port 16686; simulation.start/speed/realStart), and a helm binary to
render it with."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "tradefleet"
JAEGER_UI_PORT = 16686
CONTRACT: dict[str, Any] = {
    "image": {"repository": "tradefleet", "tag": "", "pullPolicy": "IfNotPresent"},
    "exchange": {"enabled": False},
    "postgresql": {"enabled": False},
    "jaeger": {"enabled": False},
    # the shared simulated session the kind e2e sets (the chart's simulation.* values)
    "simulation": {"start": "", "speed": 60, "realStart": 0},
}


def chart_present() -> bool:
    return CHART.is_dir()


def chart_values() -> dict[str, Any]:
    """The chart's values.yaml; the contract while the chart is not in the tree."""
    if not chart_present():
        return CONTRACT
    path = CHART / "values.yaml"
    assert path.is_file(), f"{path.relative_to(ROOT)}: the chart has no values.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def has_value(values: dict[str, Any], dotted: str) -> bool:
    """Whether ``a.b.c`` names a key of ``values`` (as helm --set would address it)."""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def find_helm() -> str | None:
    """``$HELM``, else ``helm`` on PATH, else the one .ci/k8s_tools.py fetches from PyPI (the
    chart's tests use it too)."""
    explicit = os.environ.get("HELM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    on_path = shutil.which("helm")
    tools = ROOT / ".ci" / "k8s_tools.py"
    if on_path or not tools.is_file():
        return on_path
    spec = importlib.util.spec_from_file_location("k8s_tools", tools)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.ensure_helm())


def render(release: str, namespace: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """``helm template`` of the chart with ``--set`` values; the documents it prints."""
    helm = find_helm()
    assert helm, ("helm not found: set HELM to a helm binary or put helm on PATH "
                  "(the chart is in the tree, so skaffold.yaml is checked against its render)")
    args = [helm, "template", release, str(CHART), "--namespace", namespace]
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--set-string" if isinstance(value, str) else "--set", f"{key}={text}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"helm template failed: {done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]
