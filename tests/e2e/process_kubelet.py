"""A "kubelet" for one machine, in tests: every pod the operator creates in the in-memory
cluster is run as a local process (its container command, its environment with the Secret
references resolved, its own health port as a pod would have its own network), and its phase,
readiness and container status are reported back as a kubelet does. A graceful deletion sends
SIGTERM, then SIGKILL after the grace; a force deletion kills at once. A pod can be cut off
("partitioned"): its process runs on, but nothing about it is reported or enforced any more,
as with a node the control plane cannot reach."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from tests.operator.cluster import Cluster

from tradefleet.local_fleet.processes import free_port

COMMANDS = {("tradefleet", "worker"): [sys.executable, "-m", "tradefleet.cli", "worker"]}
HOST_ENV = ("PATH", "PYTHONPATH", "HOME", "LANG", "TMPDIR", "XDG_RUNTIME_DIR")


@dataclass
class RunningPod:
    name: str
    process: asyncio.subprocess.Process
    health_port: int
    log: Path
    grace: float
    ready: bool = False
    healthy_once: bool = False
    liveness_failures: int = 0
    terminating: bool = False
    partitioned: bool = False
    exit_code: int | None = None
    reported_exit: bool = False
    env: dict[str, str] = field(default_factory=dict)


class ProcessKubelet:
    def __init__(self, cluster: Cluster, namespace: str, log_dir: Path) -> None:
        self._cluster = cluster
        self._ns = namespace
        self._logs = log_dir
        self.pods: dict[str, RunningPod] = {}
        self.exits: dict[str, int] = {}
        self._task: asyncio.Task | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ProcessKubelet:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1))
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None and self._http is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        for pod in self.pods.values():
            if pod.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    pod.process.send_signal(signal.SIGCONT)
                    pod.process.kill()
                await pod.process.wait()
        await self._http.close()

    # ---- what tests do to the "node" -------------------------------------------------
    def pid(self, pod: str) -> int:
        return self.pods[pod].process.pid

    def partition(self, pod: str) -> None:
        self.pods[pod].partitioned = True

    def tail(self, pod: str, lines: int = 40) -> str:
        return "\n".join(self.pods[pod].log.read_text(errors="replace").splitlines()[-lines:])

    # ---- the kubelet loop ------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await self._sync()
            except Exception as exc:  # noqa: BLE001 - a test helper must not die silently
                print(f"process kubelet: {type(exc).__name__}: {exc}", flush=True)
            await asyncio.sleep(0.2)

    async def _sync(self) -> None:
        present = {p["metadata"]["name"]: p for p in self._cluster.pods(self._ns)}
        for name, pod in present.items():
            if name not in self.pods and not pod["metadata"].get("deletionTimestamp"):
                await self._start(pod)
        for name, running in list(self.pods.items()):
            await self._tend(running, present.get(name))

    def _env(self, container: dict[str, Any]) -> dict[str, str]:
        env = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
        secrets: dict[str, dict[str, str]] = {}
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            ref = item["valueFrom"]["secretKeyRef"]
            if ref["name"] not in secrets:
                found = self._cluster.find_secret(self._ns, ref["name"])
                secrets[ref["name"]] = found or {}
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
        return env

    def _mount(self, pod: dict[str, Any], container: dict[str, Any],
               env: dict[str, str]) -> None:
        """Secret volumes become files in a directory of the pod's own; variables pointing
        into a mount point are pointed there (a process has no mount namespace here)."""
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            secret = volumes[mount["name"]].get("secret")
            if secret is None:
                continue
            data = self._cluster.find_secret(self._ns, secret["secretName"]) or {}
            target = self._logs / f"{pod['metadata']['name']}-{mount['name']}"
            target.mkdir(mode=0o700)
            for item in secret.get("items") or [{"key": k, "path": k} for k in data]:
                path = target / item["path"]
                path.write_text(data[item["key"]])
                path.chmod(secret.get("defaultMode", 0o644))
            for key, value in env.items():
                if value.startswith(mount["mountPath"]):
                    env[key] = str(target) + value[len(mount["mountPath"]):]

    async def _start(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        (container,) = pod["spec"]["containers"]
        command = COMMANDS[tuple(container["command"])]
        env = self._env(container)
        self._mount(pod, container, env)
        port = free_port()                         # each pod has its own network
        env["TRADEFLEET_HEALTH_PORT"] = str(port)
        log = self._logs / f"{name}.log"
        handle = log.open("wb")
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=handle, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        handle.close()
        self.pods[name] = RunningPod(name, process, port, log,
                                     float(pod["spec"].get("terminationGracePeriodSeconds",
                                                           30)), env=env)
        await self._cluster.set_pod_status(self._ns, name, {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "worker", "ready": False, "restartCount": 0,
                                   "state": {"running": {}}}]})

    async def _probe(self, pod: RunningPod, path: str) -> bool:
        assert self._http is not None
        try:
            async with self._http.get(f"http://127.0.0.1:{pod.health_port}{path}") as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def _tend(self, pod: RunningPod, api: dict[str, Any] | None) -> None:
        if pod.process.returncode is not None and pod.exit_code is None:
            code = pod.process.returncode
            pod.exit_code = 128 - code if code < 0 else code     # -9 -> 137, as kubelets do
            self.exits[pod.name] = pod.exit_code
        if pod.partitioned:
            return                                   # cut off: nothing reported or enforced
        if api is None:                              # force-deleted: the kubelet kills it
            if pod.process.returncode is None:
                pod.process.kill()
            return
        if pod.exit_code is not None:
            if api["metadata"].get("deletionTimestamp"):
                await self._cluster.remove_pod(self._ns, pod.name)
            elif not pod.reported_exit:
                pod.reported_exit = True
                await self._cluster.end_pod(self._ns, pod.name, exit_code=pod.exit_code)
            return
        if api["metadata"].get("deletionTimestamp") and not pod.terminating:
            pod.terminating = True
            pod.process.send_signal(signal.SIGTERM)
            asyncio.get_running_loop().call_later(pod.grace, self._kill_late, pod)
            return
        await self._report_health(pod)

    def _kill_late(self, pod: RunningPod) -> None:
        if pod.process.returncode is None and not pod.partitioned:
            pod.process.kill()

    async def _report_health(self, pod: RunningPod) -> None:
        alive = await self._probe(pod, "/healthz")
        if alive:
            pod.healthy_once, pod.liveness_failures = True, 0
        elif pod.healthy_once:
            pod.liveness_failures += 1
            if pod.liveness_failures >= 3:           # the liveness probe kills it
                pod.process.kill()
                return
        ready = alive and await self._probe(pod, "/readyz")
        if ready != pod.ready:
            pod.ready = ready
            await self._cluster.set_pod_status(self._ns, pod.name, {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": [{"name": "worker", "ready": ready, "restartCount": 0,
                                       "state": {"running": {}}}]})
