"""What a kubelet prepares before a pod's container starts, for the test node agent: the
environment (env with value/valueFrom, envFrom ConfigMaps and Secrets, the
KUBERNETES_SERVICE_* variables), the volumes (Secret, ConfigMap, emptyDir and the projected
ServiceAccount token with the cluster CA and namespace) as directories to bind-mount at the
mountPaths, and the command with ``$(VAR)`` expanded.

"Images": every pod runs on the host's filesystem, with a ``tradefleet`` command on PATH
(``python3 -m tradefleet.cli``); the image name is reported, never pulled."""

from __future__ import annotations

import base64
import os
import re
import sys
from pathlib import Path
from typing import Any

from tests.real_k8s.api import Api

HOST_ENV = ("PATH", "PYTHONPATH", "LANG", "TMPDIR", "XDG_RUNTIME_DIR")
SITE = Path(__file__).with_name("pod_site")
SRC = Path(__file__).resolve().parents[2] / "src"
TOKEN_SECONDS = 3607


class ConfigError(RuntimeError):
    """CreateContainerConfigError: a referenced Secret/ConfigMap or key is missing."""


def shim_dir(base: Path) -> Path:
    """A directory holding the ``tradefleet`` and ``python`` commands, first on a pod's PATH."""
    bin_dir = base / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "tradefleet"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m tradefleet.cli \"$@\"\n")
    shim.chmod(0o755)
    python = bin_dir / "python"        # a chart's `python -m ...` runs this checkout's Python
    python.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    return bin_dir


class Sources:
    """Secrets and ConfigMaps of one namespace, read once per pod start."""

    def __init__(self, api: Api, namespace: str) -> None:
        self._api, self._ns = api, namespace
        self._cache: dict[tuple[str, str], dict[str, bytes] | None] = {}

    async def data(self, kind: str, name: str) -> dict[str, bytes] | None:
        if (kind, name) not in self._cache:
            plural = "secrets" if kind == "Secret" else "configmaps"
            found = await self._api.get(f"/api/v1/namespaces/{self._ns}/{plural}/{name}",
                                        missing_ok=True)
            if found is None:
                self._cache[(kind, name)] = None
            elif kind == "Secret":
                self._cache[(kind, name)] = {k: base64.b64decode(v) for k, v in
                                             (found.get("data") or {}).items()}
            else:
                data = {k: v.encode() for k, v in (found.get("data") or {}).items()}
                data.update({k: base64.b64decode(v) for k, v in
                             (found.get("binaryData") or {}).items()})
                self._cache[(kind, name)] = data
        return self._cache[(kind, name)]

    async def key(self, kind: str, ref: dict[str, Any]) -> str | None:
        data = await self.data(kind, ref["name"])
        if data is None or ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise ConfigError(f"{kind.lower()} {ref['name']!r}"
                              + ("" if data is None else f" has no key {ref['key']!r}")
                              + (" not found" if data is None else ""))
        return data[ref["key"]].decode()


def _field(pod: dict[str, Any], path: str) -> str:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
    known = {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"],
             "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
             "spec.serviceAccountName": spec.get("serviceAccountName", ""),
             "status.podIP": status.get("podIP", ""), "status.hostIP": status.get("hostIP", "")}
    if path in known:
        return known[path]
    found = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if found:
        return (meta.get(found.group(1)) or {}).get(found.group(2), "")
    raise ConfigError(f"fieldRef {path!r} is not supported by the test node agent")


async def container_env(pod: dict[str, Any], container: dict[str, Any], sources: Sources,
                        *, pod_ip: str, host_ip: str, api_host: str, api_port: int,
                        bin_dir: Path) -> dict[str, str]:
    pod = {**pod, "status": {**(pod.get("status") or {}), "podIP": pod_ip, "hostIP": host_ip}}
    env = {k: os.environ[k] for k in HOST_ENV if k in os.environ}
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONPATH"] = os.pathsep.join([str(SITE), str(SRC)] + (
        [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    env["HOSTNAME"] = pod["metadata"]["name"]
    env["TRADEFLEET_TEST_POD_IP"] = pod_ip
    env.update({"KUBERNETES_SERVICE_HOST": api_host, "KUBERNETES_SERVICE_PORT": str(api_port),
                "KUBERNETES_SERVICE_PORT_HTTPS": str(api_port)})
    for source in container.get("envFrom") or []:
        kind = "Secret" if "secretRef" in source else "ConfigMap"
        ref = source.get("secretRef") or source.get("configMapRef") or {}
        data = await sources.data(kind, ref["name"])
        if data is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f"{kind.lower()} {ref['name']!r} not found")
        env.update({source.get("prefix", "") + k: v.decode() for k, v in data.items()})
    for item in container.get("env") or []:
        value: str | None
        if "valueFrom" not in item:
            value = expand(item.get("value", ""), env)
        else:
            ref = item["valueFrom"]
            if "secretKeyRef" in ref:
                value = await sources.key("Secret", ref["secretKeyRef"])
            elif "configMapKeyRef" in ref:
                value = await sources.key("ConfigMap", ref["configMapKeyRef"])
            elif "fieldRef" in ref:
                value = _field(pod, ref["fieldRef"]["fieldPath"])
            else:
                raise ConfigError(f"env {item['name']}: valueFrom {sorted(ref)} unsupported")
        if value is not None:
            env[item["name"]] = value
    return env


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion (``$$`` escapes; unknown names stay as written)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
                  text)


def _write(directory: Path, files: dict[str, bytes], mode: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)


def _pick(data: dict[str, bytes], items: list[dict[str, Any]] | None,
          what: str) -> dict[str, bytes]:
    if not items:
        return dict(data)
    missing = [i["key"] for i in items if i["key"] not in data]
    if missing:
        raise ConfigError(f"{what} has no key(s) {missing}")
    return {i["path"]: data[i["key"]] for i in items}


async def _projected(api: Api, pod: dict[str, Any], sources: Sources,
                     spec: dict[str, Any]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    meta = pod["metadata"]
    for source in spec.get("sources") or []:
        if "serviceAccountToken" in source:
            sat = source["serviceAccountToken"]
            sa = pod["spec"].get("serviceAccountName") or "default"
            request: dict[str, Any] = {
                "expirationSeconds": sat.get("expirationSeconds", TOKEN_SECONDS),
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"],
                                   "uid": meta["uid"]}}
            if sat.get("audience"):
                request["audiences"] = [sat["audience"]]
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": request}
            answer = await api.call(
                "POST", f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{sa}/token",
                body)
            files[sat["path"]] = answer["status"]["token"].encode()
        elif "configMap" in source or "secret" in source:
            kind = "ConfigMap" if "configMap" in source else "Secret"
            ref = source.get("configMap") or source.get("secret")
            data = await sources.data(kind, ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f"{kind.lower()} {ref['name']!r} not found")
            files.update(_pick(data, ref.get("items"), f"{kind.lower()} {ref['name']!r}"))
        elif "downwardAPI" in source:
            for item in source["downwardAPI"].get("items") or []:
                files[item["path"]] = _field(pod, item["fieldRef"]["fieldPath"]).encode()
    return files


async def prepare_volumes(api: Api, pod: dict[str, Any], sources: Sources,
                          pod_dir: Path) -> dict[str, Path]:
    """Each volume as a directory of the pod's own, by volume name."""
    out: dict[str, Path] = {}
    for volume in pod["spec"].get("volumes") or []:
        target = pod_dir / "volumes" / volume["name"]
        if "emptyDir" in volume:
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o1777)
        elif "secret" in volume or "configMap" in volume:
            kind = "Secret" if "secret" in volume else "ConfigMap"
            ref = volume.get("secret") or volume.get("configMap") or {}
            name = ref.get("secretName") or ref.get("name")
            data = await sources.data(kind, name)
            if data is None and not ref.get("optional"):
                raise ConfigError(f"{kind.lower()} {name!r} not found")
            _write(target, _pick(data or {}, ref.get("items"), f"{kind.lower()} {name!r}"),
                   ref.get("defaultMode", 0o644))
        elif "projected" in volume:
            _write(target, await _projected(api, pod, sources, volume["projected"]),
                   volume["projected"].get("defaultMode", 0o644))
        else:
            raise ConfigError(f"volume {volume['name']!r}: kind {sorted(volume)} unsupported")
        out[volume["name"]] = target
    return out


def mounts_for(container: dict[str, Any], volumes: dict[str, Path]) -> list[list[Any]]:
    mounts = []
    for mount in container.get("volumeMounts") or []:
        source = volumes[mount["name"]]
        if mount.get("subPath"):
            source = source / mount["subPath"]
        mounts.append([str(source), mount["mountPath"], bool(mount.get("readOnly"))])
    return mounts
