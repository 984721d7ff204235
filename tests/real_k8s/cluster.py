"""A real Kubernetes control plane for tests, on loopback, from the binaries
``.ci/control_plane.py`` builds: etcd, kube-apiserver (client-certificate and ServiceAccount
token authentication, Node and RBAC authorization, the admission plugins a production cluster
runs), kube-controller-manager (garbage collection, namespaces, quota, ServiceAccount tokens,
node lifecycle) and kube-scheduler. No kubelet: tests/real_k8s/node_agent.py plays the node.

``start_cluster`` returns once the API answers /readyz and the controllers have made the
``default`` ServiceAccount; ``RealCluster.kubectl`` runs the built kubectl as the admin."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tests.real_k8s.pki import Pair, Pki

from tradefleet.local_fleet.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMISSION = ("NamespaceLifecycle,ServiceAccount,ResourceQuota,LimitRanger,"
             "OwnerReferencesPermissionEnforcement,PodSecurity,NodeRestriction")
NODE_MONITOR_GRACE_S = 20           # NotReady this long after the agent's last renewal
SERVICE_RANGE = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"
TRANSIENT = ("context deadline exceeded", "TLS handshake timeout", "connection refused",
             "the server was unable to return a response in the time allotted")


def _control_plane_module() -> Any:
    spec = importlib.util.spec_from_file_location("control_plane",
                                                  ROOT / ".ci" / "control_plane.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def binaries() -> dict[str, Path] | None:
    """The built binaries, or None (the reason is ``why_not()``)."""
    return _control_plane_module().built_binaries()


def why_not() -> str:
    cp = _control_plane_module()
    if cp.find_go() is None:
        return "no Go toolchain to build the control plane (.ci/control_plane.py)"
    return (f"control plane {cp.KUBERNETES} not built yet: run `python3 .ci/control_plane.py` "
            f"(cache {cp.bin_dir()})")


def write_kubeconfig(path: Path, server: str, ca: Path, *, user: str,
                     client: Pair | None = None, token: str | None = None,
                     namespace: str = "default") -> Path:
    auth: dict[str, Any] = {}
    if client is not None:
        auth = {"client-certificate": str(client.cert), "client-key": str(client.key)}
    if token is not None:
        auth = {"token": token}
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": user,
           "clusters": [{"name": "test", "cluster": {"server": server,
                                                     "certificate-authority": str(ca)}}],
           "users": [{"name": user, "user": auth}],
           "contexts": [{"name": user, "context": {"cluster": "test", "user": user,
                                                   "namespace": namespace}}]}
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


@dataclass
class RealCluster:
    dir: Path
    bins: dict[str, Path]
    pki: Pki
    server: str
    port: int
    admin: Pair
    kubeconfig: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_in: float = 0.0

    # ---- commands -----------------------------------------------------------------------
    def kubectl(self, *args: str, kubeconfig: Path | None = None, stdin: str | None = None,
                check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bins["kubectl"]), "--kubeconfig", str(kubeconfig or self.kubeconfig),
               *args]
        for _ in range(3):      # an apiserver starved of CPU times out; the call is redone
            done = subprocess.run(cmd, input=stdin, capture_output=True,  # noqa: S603
                                  text=True, timeout=timeout, check=False)
            if not any(t in done.stderr for t in TRANSIENT):
                break
        if check and done.returncode != 0:
            raise AssertionError(f"$ {shlex.join(cmd[3:])} -> {done.returncode}\n{done.stderr}")
        return done

    def get(self, *args: str, kubeconfig: Path | None = None) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json",
                                       kubeconfig=kubeconfig).stdout)

    def apply(self, manifest: dict[str, Any] | str, namespace: str | None = None,
              kubeconfig: Path | None = None) -> str:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        ns = ["-n", namespace] if namespace else []
        return self.kubectl(*ns, "apply", "-f", "-", stdin=text, kubeconfig=kubeconfig).stdout

    def token_kubeconfig(self, path: Path, namespace: str, service_account: str,
                         hours: int = 4) -> Path:
        """A kubeconfig carrying a ServiceAccount's token (TokenRequest): RBAC judges it."""
        token = self.kubectl("-n", namespace, "create", "token", service_account,
                             f"--duration={hours}h").stdout.strip()
        return write_kubeconfig(path, self.server, self.pki.ca, user=service_account,
                                token=token, namespace=namespace)

    def client_kubeconfig(self, path: Path, user: str, group: str | None = None) -> Path:
        pair = self.pki.issue(path.stem, user, group)
        return write_kubeconfig(path, self.server, self.pki.ca, user=user, client=pair)

    def ssl_context(self, client: Pair | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        pair = client or self.admin
        ctx.load_cert_chain(str(pair.cert), str(pair.key))
        return ctx

    def stop(self) -> None:
        for name in ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            proc = self.processes.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self, name: str, lines: int = 40) -> str:
        path = self.dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) \
            if path.exists() else ""


def _spawn(cluster: RealCluster, name: str, args: list[str]) -> None:
    log = (cluster.dir / f"{name}.log").open("wb")
    cluster.processes[name] = subprocess.Popen(  # noqa: S603
        [str(cluster.bins[name]), *args], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    log.close()


def _wait(cluster: RealCluster, what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for name, proc in cluster.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited {proc.returncode}:\n{cluster.logs(name)}")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.3)


def _get(cluster: RealCluster, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(cluster.server + path, timeout=5,  # noqa: S310
                                    context=cluster.ssl_context()) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _component_config(cluster: RealCluster, name: str, user: str) -> Path:
    return cluster.client_kubeconfig(cluster.dir / f"{name}.kubeconfig", user)


def start_cluster(directory: Path, bins: dict[str, Path]) -> RealCluster:
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory / "pki")
    port = free_port()
    server = f"https://127.0.0.1:{port}"
    admin = pki.issue("admin", "tradefleet-admin", "system:masters")
    cluster = RealCluster(directory, bins, pki, server, port, admin,
                          write_kubeconfig(directory / "admin.kubeconfig", server, pki.ca,
                                           user="admin", client=admin))
    try:
        _start(cluster)
    except BaseException:
        cluster.stop()
        raise
    cluster.started_in = time.monotonic() - started
    return cluster


def _start(cluster: RealCluster) -> None:
    pki, d = cluster.pki, cluster.dir
    etcd_port, peer = free_port(), free_port()
    _spawn(cluster, "etcd", [
        "--name=default", f"--data-dir={d / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
        f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=default=http://127.0.0.1:{peer}",
        "--unsafe-no-fsync", "--log-level=warn"])
    serving = pki.issue("apiserver", "kube-apiserver", server_ips=("127.0.0.1",),
                        dns=("localhost", "kubernetes", "kubernetes.default",
                             "kubernetes.default.svc"))
    _spawn(cluster, "kube-apiserver", [
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        f"--secure-port={cluster.port}", f"--cert-dir={d / 'apiserver-certs'}",
        f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
        f"--client-ca-file={pki.ca}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-account-issuer={ISSUER}",
        f"--service-cluster-ip-range={SERVICE_RANGE}",
        "--authorization-mode=Node,RBAC", f"--enable-admission-plugins={ADMISSION}",
        "--allow-privileged=true", "--endpoint-reconciler-type=none",
        "--enable-priority-and-fairness=false", "--profiling=false", "--v=1"])
    _wait(cluster, "kube-apiserver /readyz",
          lambda: _get(cluster, "/readyz")[0] == 200, 300)
    cm = _component_config(cluster, "controller-manager", "system:kube-controller-manager")
    _spawn(cluster, "kube-controller-manager", [
        f"--kubeconfig={cm}", f"--authentication-kubeconfig={cm}",
        f"--authorization-kubeconfig={cm}", "--bind-address=127.0.0.1",
        f"--secure-port={free_port()}", "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.ca}",
        f"--node-monitor-grace-period={NODE_MONITOR_GRACE_S}s",
        "--node-monitor-period=2s", "--concurrent-gc-syncs=5", "--v=1"])
    sched = _component_config(cluster, "scheduler", "system:kube-scheduler")
    _spawn(cluster, "kube-scheduler", [
        f"--kubeconfig={sched}", f"--authentication-kubeconfig={sched}",
        f"--authorization-kubeconfig={sched}", "--bind-address=127.0.0.1",
        f"--secure-port={free_port()}", "--leader-elect=false", "--v=1"])
    _wait(cluster, "the default ServiceAccount (controller-manager up)",
          lambda: _get(cluster, "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
          120)
    _wait(cluster, "kube-root-ca.crt published in default",
          lambda: _get(cluster, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt")[0]
          == 200, 60)


def environment_without_kube() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
