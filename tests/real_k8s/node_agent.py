"""A node of the real test cluster without a container runtime (no kubelet can run here): the
agent registers a Node, keeps its Lease in kube-node-lease fresh, and runs every pod the
scheduler binds to it as a local process in a mount namespace of its own
(tests/real_k8s/pod_launch.py), with the pod's environment and volumes (pod_setup.py). It runs
the startup, liveness and readiness probes, writes the pod's status as a kubelet does (phase,
conditions, podIP, containerStatuses with restartCount and the last termination), honours
restartPolicy, and ends a deleted pod gracefully: SIGTERM, SIGKILL after the grace, then the
final delete. It authenticates as ``system:node:<name>`` (Node authorizer, NodeRestriction).

Networking, documented mapping: each pod's IP is an address of its own added to ``lo``
(10.<run>.<node>.<n>), a wildcard listen of a Python process is narrowed to it
(pod_site/sitecustomize.py), and the pod's /etc/hosts maps every Service name to the ready
addresses of its Endpoints, refreshed as they change (the agent is its own kube-proxy and DNS).
Ports are not translated: a Service's port must equal its target port.

``lose()`` is node loss: the heartbeat stops and the agent no longer reports or enforces
anything, while the processes it started run on (a partition, as the control plane sees it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.real_k8s.api import Api, ApiError
from tests.real_k8s.cluster import RealCluster
from tests.real_k8s.pod_runner import PodRunner
from tests.real_k8s.pod_setup import shim_dir

LEASE_SECONDS = 40
RENEW_EVERY_S = 2.0
STATUS_EVERY_S = 10.0
SYNC_EVERY_S = 0.5


_SUBNET: list[str] = []


def subnet() -> str:
    """``10.<run>``: this test process's share of 10.200-249 on the host's shared ``lo``, the
    first free from a pid-dependent start, so that two test runs on one machine (several
    developers, or CI beside a developer) do not take each other's pod addresses."""
    if not _SUBNET:
        taken = subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"],  # noqa: S607
                               capture_output=True, text=True, check=False).stdout
        for step in range(50):
            octet = 200 + (os.getpid() + step) % 50
            if f"inet 10.{octet}." not in taken:
                _SUBNET.append(f"10.{octet}")
                break
        else:
            raise RuntimeError("no free 10.200-249 subnet on lo for the test node agents")
    return _SUBNET[0]


def micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeAgent:
    """Runs on a thread of its own (its own event loop), so a test may block freely."""

    def __init__(self, cluster: RealCluster, name: str, index: int, work_dir: Path) -> None:
        self.cluster = cluster
        self.name = name
        self.index = index
        self.dir = work_dir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ip = f"{subnet()}.{index}.1"
        pair = cluster.pki.issue(f"node-{name}", f"system:node:{name}", "system:nodes")
        self.api = Api(cluster.server, cluster.ssl_context(pair))
        # its kube-proxy half reads Services' Endpoints as kube-proxy does (a node may not)
        proxy = cluster.pki.issue(f"proxy-{name}", "system:kube-proxy")
        self.proxy_api = Api(cluster.server, cluster.ssl_context(proxy))
        self.bin_dir = shim_dir(self.dir)
        self.runners: dict[str, PodRunner] = {}        # by pod uid
        self.hosts = ""
        self.lost = False
        self.errors: list[str] = []
        self._next_ip = 10
        self._addresses: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"agent-{name}",
                                        daemon=True)
        self._task: asyncio.Future | None = None

    # ---- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> NodeAgent:
        self.add_address(self.ip)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.api.open(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(self.proxy_api.open(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(self._register(), self._loop).result(30)
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        for address in self._addresses:
            subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"],  # noqa: S607
                           capture_output=True, check=False)
        # a node gone for good: its Node leaves the session's cluster, or the scheduler of a
        # later test may still bind pods to it while it looks Ready (its pods are collected)
        self.cluster.kubectl("delete", "node", self.name, "--wait=false", check=False)

    async def _shutdown(self) -> None:
        for runner in self.runners.values():
            await runner.kill_now()
        await self.api.close()
        await self.proxy_api.close()

    def add_address(self, address: str) -> None:
        done = subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"],  # noqa: S607
                              capture_output=True, text=True, check=False)
        if done.returncode != 0 and "exists" not in done.stderr:
            raise RuntimeError(f"ip addr add {address}: {done.stderr}")
        self._addresses.append(address)

    def pod_ip(self) -> str:
        address = f"{subnet()}.{self.index}.{self._next_ip}"
        self._next_ip += 1
        if self._next_ip > 250:
            self._next_ip = 10
        if address not in self._addresses:
            self.add_address(address)
        return address

    # ---- what tests do to the node --------------------------------------------------------
    def lose(self) -> None:
        """Node loss: heartbeat, status and enforcement stop; processes run on."""
        self.lost = True

    def runner(self, pod_name: str) -> PodRunner:
        for runner in self.runners.values():
            if runner.name == pod_name:
                return runner
        raise LookupError(f"no pod {pod_name} on node {self.name}")

    def pid(self, pod_name: str) -> int:
        return self.runner(pod_name).pid()

    # ---- the node -------------------------------------------------------------------------
    async def _register(self) -> None:
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": self.name, "labels": {"kubernetes.io/hostname": self.name,
                                          "kubernetes.io/os": "linux",
                                          "kubernetes.io/arch": "amd64"}}}
        try:
            await self.api.call("POST", "/api/v1/nodes", body)
        except ApiError as exc:
            if exc.status != 409:
                raise
        await self._node_status()
        await self._renew()

    async def _node_status(self) -> None:
        now = now_iso()
        conditions = [{"type": t, "status": "False", "reason": f"KubeletHasNo{t}",
                       "message": "test node agent", "lastHeartbeatTime": now,
                       "lastTransitionTime": now}
                      for t in ("MemoryPressure", "DiskPressure", "PIDPressure")]
        conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                           "message": "test node agent is posting ready status",
                           "lastHeartbeatTime": now, "lastTransitionTime": now})
        capacity = {"cpu": "8", "memory": "16Gi", "pods": "50", "ephemeral-storage": "50Gi"}
        await self.api.patch(f"/api/v1/nodes/{self.name}/status", {"status": {
            "conditions": conditions, "capacity": capacity, "allocatable": capacity,
            "addresses": [{"type": "InternalIP", "address": self.ip},
                          {"type": "Hostname", "address": self.name}],
            "nodeInfo": {"kubeletVersion": "v1.34.4", "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "tradefleet-test-agent://1",
                         "osImage": "test", "kernelVersion": os.uname().release,
                         "machineID": "", "systemUUID": "", "bootID": ""}}})

    async def _renew(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": micro_now()}
        found = await self.api.get(path, missing_ok=True)
        if found is None:
            await self.api.call("POST", "/apis/coordination.k8s.io/v1/namespaces/"
                                "kube-node-lease/leases", {
                                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                    "metadata": {"name": self.name, "ownerReferences": []},
                                    "spec": spec})
        else:
            await self.api.patch(path, {"spec": spec})

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        renewed = status_at = hosts_at = 0.0
        while True:
            try:
                if not self.lost:
                    now = loop.time()
                    if now - renewed >= RENEW_EVERY_S:
                        await self._renew()
                        renewed = now
                    if now - status_at >= STATUS_EVERY_S:
                        await self._node_status()
                        status_at = now
                    if now - hosts_at >= 1.0:
                        await self._refresh_hosts()
                        hosts_at = now
                    await self._sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a test helper must not die silently
                message = f"node agent {self.name}: {type(exc).__name__}: {exc}"
                if not self.errors or self.errors[-1] != message:
                    print(message, file=sys.stderr, flush=True)
                self.errors.append(message)
            await asyncio.sleep(SYNC_EVERY_S)

    async def _refresh_hosts(self) -> None:
        found = await self.proxy_api.get("/api/v1/endpoints")
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        for ep in found.get("items") or []:
            meta = ep["metadata"]
            ready = [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
            if ready and meta["name"] != "kubernetes":
                n, ns = meta["name"], meta["namespace"]
                lines.append(f"{ready[0]}\t{n}.{ns}.svc.cluster.local {n}.{ns}.svc {n}.{ns} {n}")
        text = "\n".join(lines) + "\n"
        if text != self.hosts:
            self.hosts = text
            for runner in self.runners.values():
                runner.write_hosts(text)

    async def _sync(self) -> None:
        listed = await self.api.get("/api/v1/pods",
                                    params={"fieldSelector": f"spec.nodeName={self.name}"})
        present = {p["metadata"]["uid"]: p for p in listed.get("items") or []}
        for uid, pod in present.items():
            if uid not in self.runners and not pod["metadata"].get("deletionTimestamp") \
                    and (pod.get("status") or {}).get("phase") in (None, "Pending"):
                runner = PodRunner(self, pod)
                self.runners[uid] = runner
                await runner.start()
        for uid, runner in list(self.runners.items()):
            api_pod = present.get(uid)
            if api_pod is None:
                await runner.kill_now()          # gone from the API: force-deleted
                del self.runners[uid]
                continue
            runner.pod = api_pod
            if await runner.tend():
                del self.runners[uid]

    def dump(self) -> str:
        return json.dumps({r.name: r.summary() for r in self.runners.values()}, indent=1)


@contextlib.contextmanager
def agents(cluster: RealCluster, names: tuple[str, ...]) -> Any:
    """Started agents; their pods' files live under /var/tmp, not /tmp: a pod's emptyDir is
    mounted over /tmp in its namespace and would hide the sources of its other volumes."""
    work_dir = Path(tempfile.mkdtemp(prefix="tradefleet-nodes-", dir="/var/tmp"))
    started: list[NodeAgent] = []
    try:
        for i, name in enumerate(names):
            agent = NodeAgent(cluster, name, i + 1, work_dir)
            agent.__enter__()
            started.append(agent)
        yield started
    finally:
        for agent in reversed(started):
            with contextlib.suppress(Exception):
                agent.__exit__(None, None, None)
        if os.environ.get("TRADEFLEET_REAL_KEEP") == "1":       # the pods' logs, to read
            print(f"pods' files kept in {work_dir}", flush=True)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    if sig == signal.SIGKILL:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGCONT)
