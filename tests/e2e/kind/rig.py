"""The kind cluster of the end-to-end test and the commands run against it: every kubectl
and helm call goes through the cluster's own kubeconfig file (the user's ~/.kube/config is
never touched), and a failed command raises with its stderr."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.e2e.kind.readings import missing_tools, pod_named, psql_json

T = TypeVar("T")


def docker_responds() -> bool:
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def what_is_missing() -> list[str]:
    return missing_tools(shutil.which, docker_responds)


def run(*args: str, timeout: float = 300, stdin: str | None = None) -> str:
    print("$", shlex.join(args), flush=True)
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          input=stdin, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{shlex.join(args)} exited {done.returncode}:\n{done.stderr}"
                             f"\n{done.stdout[-2000:]}")
    return done.stdout


def until(check: Callable[[], T | None], what: str, timeout: float, every: float = 3.0) -> T:
    """``check()`` until it returns something truthy; AssertionError naming ``what``. A
    check that raises LookupError/AssertionError is just not done yet (last one reported)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            result = check()
            if result:
                return result
        except (LookupError, AssertionError) as exc:
            last = str(exc)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 + (f"; last: {last}" if last else ""))
        time.sleep(every)


@dataclass
class KindCluster:
    name: str
    kubeconfig: Path
    namespace: str
    release: str

    def create(self) -> None:
        if self.name in run("kind", "get", "clusters").split():
            run("kind", "delete", "cluster", "--name", self.name)      # a stale run's
        run("kind", "create", "cluster", "--name", self.name, "--kubeconfig",
            str(self.kubeconfig), "--wait", "180s", timeout=600)

    def delete(self) -> None:
        run("kind", "delete", "cluster", "--name", self.name, "--kubeconfig",
            str(self.kubeconfig), timeout=300)

    def load_image(self, image: str) -> None:
        run("kind", "load", "docker-image", image, "--name", self.name, timeout=600)

    def kubectl(self, *args: str, timeout: float = 120, stdin: str | None = None) -> str:
        return run("kubectl", "--kubeconfig", str(self.kubeconfig), "--namespace",
                   self.namespace, *args, timeout=timeout, stdin=stdin)

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def get_raw(self, path: str) -> Any:
        return json.loads(self.kubectl("get", "--raw", path))

    def helm(self, *args: str, timeout: float = 900) -> str:
        return run("helm", "--kubeconfig", str(self.kubeconfig), "--namespace",
                   self.namespace, *args, timeout=timeout)

    def psql(self, sql: str) -> Any:
        """One JSON value from SQL run by psql inside the bundled PostgreSQL's pod (the
        official image's local socket trusts its own user; no password needed here)."""
        pod = pod_named(self.kubectl_json("get", "pods"), f"{self.release}-postgresql")
        script = ('psql -v ON_ERROR_STOP=1 -At -U "${POSTGRES_USER:-postgres}" '
                  '-d "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" -c "$1"')
        return psql_json(self.kubectl("exec", pod, "--", "sh", "-c", script, "psql", sql))

    def diagnose(self) -> None:
        """What a failed run leaves on the console: pods, workers, the release's logs."""
        for args in (("get", "pods,tradingworkers,services", "-o", "wide"),
                     ("get", "events", "--sort-by=.lastTimestamp"),
                     ("logs", "-l", f"app.kubernetes.io/instance={self.release}",
                      "--all-containers", "--prefix", "--tail=80"),
                     ("logs", "-l", "app.kubernetes.io/component=worker",
                      "--all-containers", "--prefix", "--tail=40")):
            try:
                print(self.kubectl(*args), flush=True)
            except (AssertionError, subprocess.TimeoutExpired) as exc:
                print(exc, flush=True)
