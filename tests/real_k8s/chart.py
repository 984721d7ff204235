"""The chart and the operator on the real test cluster: ``helm`` (from .ci/k8s_tools.py) with
the cluster's admin kubeconfig, namespaces, and ``tradefleet operator`` run as a local process
whose only credentials are the chart's ServiceAccount token, so that RBAC and admission judge
every call it makes."""

from __future__ import annotations

import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tests.real_k8s.cluster import ROOT, RealCluster

from tradefleet.local_fleet.processes import free_port

CHART = ROOT / "charts" / "tradefleet"
T = TypeVar("T")


def helm_binary() -> Path:
    spec = importlib.util.spec_from_file_location("k8s_tools", ROOT / ".ci" / "k8s_tools.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ensure_helm()


def helm_run(cluster: RealCluster, *args: str,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """``helm`` as the cluster's admin; the caller judges the exit status."""
    cmd = [str(helm_binary()), "--kubeconfig", str(cluster.kubeconfig), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                          check=False)


def helm(cluster: RealCluster, *args: str, timeout: float = 300) -> str:
    done = helm_run(cluster, *args, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"$ helm {shlex.join(args)} -> {done.returncode}\n{done.stderr}"
                             f"\n{done.stdout[-2000:]}")
    return done.stdout


def namespace(cluster: RealCluster, name: str, *, restricted: bool = True) -> None:
    """A namespace whose pods must pass the ``restricted`` Pod Security Standard."""
    labels = {"pod-security.kubernetes.io/enforce": "restricted"} if restricted else {}
    cluster.apply({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": name, "labels": labels}})
    wait(lambda: cluster.kubectl("-n", name, "get", "serviceaccount", "default",
                                 check=False).returncode == 0, f"namespace {name} ready", 60)


def wait(check: Callable[[], T | None], what: str, timeout: float, every: float = 0.5) -> T:
    """The first truthy ``check()``; AssertionError naming ``what`` (and the last failure)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            result = check()
            if result:
                return result
        except (LookupError, AssertionError, KeyError) as exc:
            last = f"; last: {exc}"
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{last}")
        time.sleep(every)


def secret(cluster: RealCluster, ns: str, name: str, data: dict[str, str]) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                   "stringData": data}, namespace=ns)


def events_of(cluster: RealCluster, ns: str, name: str) -> list[dict[str, Any]]:
    found = cluster.get("events", "-n", ns, "--field-selector",
                        f"involvedObject.name={name}")
    return found.get("items") or []


def condition(tw: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (tw.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}


@contextmanager
def local_operator(cluster: RealCluster, kubeconfig: Path, log: Path,
                   env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """``tradefleet operator`` with nothing but ``kubeconfig`` (a ServiceAccount token)."""
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("TRADEFLEET_", "KUBECONFIG", "OTEL_", "POD_NAMESPACE"))}
    # the test's own PYTHONPATH first (.ci/mutants.py points it at a mutated copy)
    full["PYTHONPATH"] = os.pathsep.join([os.environ.get("PYTHONPATH") or str(ROOT / "src"),
                                          str(ROOT)])
    full.update({"KUBECONFIG": str(kubeconfig), "TRADEFLEET_OPERATOR_RESYNC_SECONDS": "1",
                 "TRADEFLEET_OPERATOR_LIVENESS_PORT": str(free_port()),
                 "TRADEFLEET_OPERATOR_METRICS_PORT": "0", **env})
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tradefleet.cli", "operator"],  # noqa: S603
                                env=full, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) \
        if path.exists() else ""
