"""One pod on the test node agent (node_agent.py): its container as a local process in a mount
namespace of its own, its probes, restarts by restartPolicy, graceful termination, and the
pod status a kubelet would write."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from tests.real_k8s.api import ApiError
from tests.real_k8s.pod_setup import (
    SITE,
    SRC,
    ConfigError,
    Sources,
    container_env,
    expand,
    mounts_for,
    prepare_volumes,
)

if TYPE_CHECKING:
    from tests.real_k8s.node_agent import NodeAgent

LAUNCHER = Path(__file__).with_name("pod_launch.py")
BACKOFF_BASE_S = 10.0
BACKOFF_MAX_S = 300.0
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
MESSAGE_LINES, MESSAGE_BYTES = 80, 2048        # a kubelet's FallbackToLogsOnError tail


def _now() -> str:
    from tests.real_k8s.node_agent import now_iso
    return now_iso()


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode     # -9 -> 137, as kubelets do


class PodRunner:
    def __init__(self, agent: NodeAgent, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        self.agent, self.pod = agent, pod
        self.name, self.ns, self.uid = meta["name"], meta["namespace"], meta["uid"]
        self.dir = agent.dir / "pods" / f"{self.ns}_{self.name}_{self.uid[:8]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "container.log"
        self.hosts = self.dir / "hosts"
        self.hosts.write_text(agent.hosts or "127.0.0.1\tlocalhost\n")
        (self.container,) = pod["spec"]["containers"][:1]
        self.ip = ""
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = -1                     # the first start makes it 0
        self.exits: list[int] = []
        self.last_terminated: dict[str, Any] | None = None
        self.state: dict[str, Any] = {"waiting": {"reason": "ContainerCreating"}}
        self.phase = "Pending"
        self.start_time = _now()
        self.started = self.ready = False
        self.terminating = False
        self.kill_at: float | None = None
        self.next_start = 0.0
        self._probe: dict[str, dict[str, Any]] = {}
        self._times: dict[str, str] = {}
        self._written: dict[str, Any] | None = None
        self._started_at = ""
        self._log_from = 0                     # where this container's run begins in the log

    # ---- start ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.ip = self.ip or self.agent.pod_ip()
        await self._launch()
        await self._write_status()

    async def _launch(self) -> None:
        api, pod, container = self.agent.api, self.pod, self.container
        loop = asyncio.get_running_loop()
        try:
            if len(pod["spec"]["containers"]) != 1 or pod["spec"].get("initContainers"):
                raise ConfigError("the test node agent runs pods of exactly one container")
            sources = Sources(api, self.ns)
            volumes = await prepare_volumes(api, pod, sources, self.dir)
            env = await container_env(pod, container, sources, pod_ip=self.ip,
                                      host_ip=self.agent.ip,
                                      api_host="127.0.0.1", api_port=self.agent.cluster.port,
                                      bin_dir=self.agent.bin_dir)
            if not container.get("command"):
                raise ConfigError("no command: the test node agent has no image entrypoints")
        except (ConfigError, ApiError) as exc:
            self.state = {"waiting": {"reason": "CreateContainerConfigError",
                                      "message": str(exc)}}
            self.next_start = loop.time() + 2.0
            return
        argv = [expand(a, env) for a in container["command"] + (container.get("args") or [])]
        mounts = [*mounts_for(container, volumes), [str(self.hosts), "/etc/hosts", True]]
        launch = self.dir / "launch.json"
        launch.write_text(json.dumps({"argv": argv, "env": env, "mounts": mounts,
                                      "keep": [str(SITE), str(SRC)],
                                      "cwd": container.get("workingDir") or "/"}))
        self._log_from = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                "unshare", "--mount", "--propagation", "private", sys.executable,
                str(LAUNCHER), str(launch), stdout=out, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)
        self.restarts += 1
        self._started_at = _now()
        self.state = {"running": {"startedAt": self._started_at}}
        self.phase = "Running"
        self.started = "startupProbe" not in container
        self.ready = False
        self._probe = {}

    # ---- each pass ------------------------------------------------------------------------
    async def tend(self) -> bool:
        """One pass; True once the pod is finally deleted (the agent forgets it)."""
        loop = asyncio.get_running_loop()
        if self.process is not None and self.process.returncode is not None:
            if await self._exited(loop):
                return True
        if self.pod["metadata"].get("deletionTimestamp") and not self.terminating:
            self.terminating = True
            if self.process is None:
                return await self._finally_delete()
            grace = self.pod["metadata"].get("deletionGracePeriodSeconds", 30)
            self._signal(signal.SIGTERM)
            self.kill_at = loop.time() + float(grace)
        if self.terminating:
            if self.kill_at is not None and loop.time() >= self.kill_at:
                self._signal(signal.SIGKILL)
                self.kill_at = None
            return False
        if self.process is None and self.phase in ("Pending", "Running") \
                and loop.time() >= self.next_start:
            await self._launch()
        if self.process is not None:
            self._run_probes(loop)
        await self._write_status()
        return False

    async def _exited(self, loop: asyncio.AbstractEventLoop) -> bool:
        assert self.process is not None
        code = _exit_code(self.process.returncode or 0)
        self.exits.append(code)
        self.last_terminated = {"exitCode": code, "reason": "Completed" if code == 0 else
                                "Error", "startedAt": self._started_at, "finishedAt": _now(),
                                "containerID": self._container_id()}
        message = self._termination_message(code)
        if message:
            self.last_terminated["message"] = message
        self.process, self.ready = None, False
        if self.terminating:
            return await self._finally_delete()
        policy = self.pod["spec"].get("restartPolicy", "Always")
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, self.restarts))
            self.next_start = loop.time() + delay
            self.state = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                      f"back-off {delay:.0f}s restarting failed container"}}
        else:
            self.phase = "Succeeded" if code == 0 else "Failed"
            self.state = {"terminated": dict(self.last_terminated)}
        await self._write_status()
        return False

    def _termination_message(self, code: int) -> str:
        """As a kubelet with ``terminationMessagePolicy: FallbackToLogsOnError``: a failed
        container's last log lines (80 lines, 2 KiB) become its termination message, which
        ``kubectl describe pod`` shows (the default policy File reads a file we do not map)."""
        if code == 0 or self.container.get("terminationMessagePolicy") \
                != "FallbackToLogsOnError" or not self.log.exists():
            return ""
        with self.log.open("rb") as file:
            file.seek(self._log_from)
            text = file.read().decode(errors="replace")
        tail = "\n".join(text.splitlines()[-MESSAGE_LINES:])
        return tail.encode()[-MESSAGE_BYTES:].decode(errors="replace")

    async def _finally_delete(self) -> bool:
        with contextlib.suppress(ApiError):
            await self.agent.api.call(
                "DELETE", f"/api/v1/namespaces/{self.ns}/pods/{self.name}",
                {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}},
                missing_ok=True)
        return True

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.returncode is None:
            from tests.real_k8s.node_agent import kill_group
            kill_group(self.process.pid, sig)

    async def kill_now(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self._signal(signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.process.wait(), 10)

    def pid(self) -> int:
        if self.process is None:
            raise LookupError(f"pod {self.name} has no running process")
        return self.process.pid

    def write_hosts(self, text: str) -> None:
        with self.hosts.open("r+") as file:          # in place: the bind mount keeps the inode
            file.seek(0)
            file.write(text)
            file.truncate()

    # ---- probes ---------------------------------------------------------------------------
    def _run_probes(self, loop: asyncio.AbstractEventLoop) -> None:
        for kind in PROBES:
            probe = self.container.get(kind)
            if probe is None or (kind == "startupProbe") == self.started:
                continue
            state = self._probe.setdefault(kind, {
                "next": loop.time() + probe.get("initialDelaySeconds", 0), "fails": 0,
                "task": None})
            if state["task"] is None and loop.time() >= state["next"]:
                state["next"] = loop.time() + probe.get("periodSeconds", 10)
                state["task"] = asyncio.create_task(self._check(probe))
                state["task"].add_done_callback(
                    lambda t, k=kind, p=probe: self._probed(k, p, t))

    def _probed(self, kind: str, probe: dict[str, Any], task: asyncio.Task) -> None:
        state = self._probe.get(kind)
        if state is None or state["task"] is not task:
            return                                       # a probe of a previous container
        state["task"] = None
        ok = not task.cancelled() and task.exception() is None and task.result()
        state["fails"] = 0 if ok else state["fails"] + 1
        failed = state["fails"] >= probe.get("failureThreshold", 3)
        if kind == "startupProbe":
            if ok:
                self.started = True
            elif failed:
                self._liveness_kill()
        elif kind == "readinessProbe":
            if ok:
                self.ready = True
            elif failed:
                self.ready = False
        elif failed:
            self._liveness_kill()

    def _liveness_kill(self) -> None:
        self._signal(signal.SIGKILL)

    async def _check(self, probe: dict[str, Any]) -> bool:
        timeout = float(probe.get("timeoutSeconds", 1))
        if "httpGet" in probe:
            get = probe["httpGet"]
            url = f"http://{get.get('host') or self.ip}:{self._port(get['port'])}" \
                  f"{get.get('path', '/')}"
            try:
                async with aiohttp.ClientSession(
                        timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
                        http.get(url) as resp:
                    return 200 <= resp.status < 400
            except (TimeoutError, aiohttp.ClientError, OSError):
                return False
        if "tcpSocket" in probe:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(
                    self.ip, self._port(probe["tcpSocket"]["port"])), timeout)
                writer.close()
                return True
            except (TimeoutError, OSError):
                return False
        if "exec" in probe and self.process is not None:
            proc = await asyncio.create_subprocess_exec(
                "nsenter", "--target", str(self.process.pid), "--mount", "--",
                *probe["exec"]["command"], stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            try:
                return await asyncio.wait_for(proc.wait(), timeout) == 0
            except TimeoutError:
                proc.kill()
                return False
        return False

    def _port(self, port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for item in self.container.get("ports") or []:
            if item.get("name") == port:
                return int(item["containerPort"])
        raise ConfigError(f"no container port named {port!r}")

    # ---- status ---------------------------------------------------------------------------
    def _container_id(self) -> str:
        return f"tradefleet-agent://{self.uid[:8]}-{max(self.restarts, 0)}"

    def _condition(self, kind: str, ok: bool) -> dict[str, Any]:
        status = "True" if ok else "False"
        key = f"{kind}={status}"
        if key not in self._times:
            self._times = {k: v for k, v in self._times.items() if not k.startswith(kind + "=")}
            self._times[key] = _now()
        return {"type": kind, "status": status, "lastTransitionTime": self._times[key]}

    def status(self) -> dict[str, Any]:
        c = self.container
        running = "running" in self.state
        container: dict[str, Any] = {
            "name": c["name"], "image": c.get("image", ""), "imageID": "",
            "ready": self.ready and running, "started": running and self.started,
            "restartCount": max(self.restarts, 0), "state": self.state}
        if running:
            container["containerID"] = self._container_id()
        if self.last_terminated is not None:
            container["lastState"] = {"terminated": self.last_terminated}
        ready = self.ready and running
        out: dict[str, Any] = {
            "phase": self.phase, "startTime": self.start_time,
            "hostIP": self.agent.ip, "hostIPs": [{"ip": self.agent.ip}],
            "conditions": [self._condition("PodScheduled", True),
                           self._condition("Initialized", True),
                           self._condition("ContainersReady", ready),
                           self._condition("Ready", ready)],
            "containerStatuses": [container]}
        if self.ip:
            out["podIP"], out["podIPs"] = self.ip, [{"ip": self.ip}]
        return out

    async def _write_status(self) -> None:
        status = self.status()
        if status == self._written:
            return
        await self.agent.api.patch(f"/api/v1/namespaces/{self.ns}/pods/{self.name}/status",
                                   {"status": status}, missing_ok=True)
        self._written = status

    def summary(self) -> dict[str, Any]:
        return {"phase": self.phase, "ip": self.ip, "state": self.state,
                "restarts": self.restarts, "exits": self.exits,
                "pid": self.process.pid if self.process else None}
